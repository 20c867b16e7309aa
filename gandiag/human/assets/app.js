// gandiag human-kit page: rapid "real or fake?" categorization (Denton et al. 2015; HYPE, Zhou et al. 2019).
// Plain ES2017, no libraries, no network. Timing: every screen change happens inside a
// requestAnimationFrame callback, and exposure is measured between the frame that showed the image
// and the frame that replaced it by the mask (both changes reach the display with the same latency).
(function () {
  'use strict';
  var KIT = JSON.parse(document.getElementById('kit-data').textContent);
  var STORE = 'gandiag-human/' + KIT.kit_id + '/';
  var FEEDBACK_MS = 700;
  var $ = function (id) { return document.getElementById(id); };
  var S = null;            // session state, saved to localStorage after every answer
  var imgs = {};           // image id -> decoded <img>
  var masks = [];          // decoded mask <img>s
  var fixation = null;     // the fixation-cross element
  var blank = null;        // empty element (stage shows background only)
  var answerHandler = null;
  var hiddenDuringTrial = false;

  // ---------- small helpers ----------
  function show(id) {
    var screens = document.querySelectorAll('.screen');
    for (var i = 0; i < screens.length; i++) screens[i].hidden = (screens[i].id !== id);
    document.body.dataset.screen = id.replace('screen-', '');
  }
  function nowIso() { return new Date().toISOString(); }
  function save() {
    try { localStorage.setItem(STORE + S.participant, JSON.stringify(S)); }
    catch (e) { $('feedback').textContent = 'Warning: this browser cannot store results (' + e.name + ').'; }
  }
  function loadState(pid) {
    try { var raw = localStorage.getItem(STORE + pid); return raw ? JSON.parse(raw) : null; }
    catch (e) { return null; }
  }
  function setStage(el, showing) {
    var stage = $('stage');
    while (stage.firstChild) stage.removeChild(stage.firstChild);
    if (el) stage.appendChild(el);
    stage.dataset.showing = showing;
  }
  // Call onFrame(ts) once per animation frame until it returns a value; resolve with that value.
  function frames(onFrame) {
    return new Promise(function (resolve) {
      function tick(ts) {
        var r = onFrame(ts);
        if (r !== undefined) resolve(r); else requestAnimationFrame(tick);
      }
      requestAnimationFrame(tick);
    });
  }
  function decode(uri) {
    var im = new Image();
    im.alt = '';
    im.draggable = false;
    im.src = uri;
    return (im.decode ? im.decode() : Promise.resolve()).then(function () { return im; });
  }
  function estimateFrameMs() {
    var stamps = [];
    return frames(function (ts) {
      stamps.push(ts);
      if (stamps.length < 16) return undefined;
      var d = [];
      for (var i = 1; i < stamps.length; i++) d.push(stamps[i] - stamps[i - 1]);
      d.sort(function (a, b) { return a - b; });
      return d[Math.floor(d.length / 2)];
    });
  }
  function round1(x) { return Math.round(x * 10) / 10; }

  // ---------- presentation of one trial ----------
  // Fixation for fixation_ms, image for `exposure` ms (to the nearest frame), then the mask.
  function present(trial, exposure) {
    var image = imgs[trial.img];
    var mask = masks[(trial.t - 1) % masks.length];
    var start = null;
    return frames(function (ts) {
      if (start === null) { setStage(fixation, 'fixation'); start = ts; return undefined; }
      // Switch on the first frame whose start is within half a frame of the target.
      return (ts - start >= KIT.fixation_ms - S.frame_ms / 2) ? ts : undefined;
    }).then(function () {
      var onset = null, n = 0;
      return frames(function (ts) {
        if (onset === null) { setStage(image, 'stimulus'); onset = ts; return undefined; }
        n += 1;
        if (ts - onset >= exposure - S.frame_ms / 2) {
          setStage(mask, 'mask');
          return { onset: onset, offset: ts, measured: ts - onset, frames: n };
        }
        return undefined;
      });
    });
  }

  function waitAnswer(offset) {
    return new Promise(function (resolve) {
      $('prompt').dataset.ready = '1';
      $('btn-real').disabled = false;
      $('btn-fake').disabled = false;
      answerHandler = function (response, how, stamp) {
        answerHandler = null;
        $('prompt').dataset.ready = '0';
        $('btn-real').disabled = true;
        $('btn-fake').disabled = true;
        resolve({ response: response, input: how, rt: stamp - offset });
      };
    });
  }

  function maskThenBlank(offset) {
    return frames(function (ts) {
      if (ts - offset >= KIT.mask_ms - S.frame_ms / 2) { setStage(blank, 'blank'); return true; }
      return undefined;
    });
  }

  function exposureFor(trial) {
    if (trial.ex !== null) return { ms: trial.ex, level: null };
    var level = S.stair.level;
    return { ms: KIT.staircase.ladder_ms[level], level: level };
  }

  function updateStaircase(correct) {
    var st = S.stair;
    if (correct) {
      st.run_correct += 1; st.run_wrong = 0;
      if (st.run_correct >= KIT.staircase.down) { st.level = Math.max(0, st.level - 1); st.run_correct = 0; }
    } else {
      st.run_wrong += 1; st.run_correct = 0;
      if (st.run_wrong >= KIT.staircase.up) {
        st.level = Math.min(KIT.staircase.ladder_ms.length - 1, st.level + 1); st.run_wrong = 0;
      }
    }
  }

  function progressText(trials, k) {
    var t = trials[k];
    if (t.ph === 'practice') {
      var np = trials.filter(function (x) { return x.ph === 'practice'; }).length;
      return 'Practice ' + t.t + ' of ' + np;
    }
    var mains = trials.filter(function (x) { return x.ph === 'main'; });
    var idx = mains.indexOf(t) + 1;
    return 'Trial ' + idx + ' of ' + mains.length;
  }

  function runTrial(trials, k) {
    var trial = trials[k];
    var ex = exposureFor(trial);
    $('progress-text').textContent = progressText(trials, k);
    $('progress-bar').style.width = (100 * k / trials.length).toFixed(1) + '%';
    $('feedback').textContent = '';
    $('feedback').className = '';
    hiddenDuringTrial = document.hidden;
    S.in_progress = trial.t;    // a trial cut short by a closed tab is recorded as interrupted
    save();
    return present(trial, ex.ms).then(function (shown) {
      var maskDone = maskThenBlank(shown.offset);
      return waitAnswer(shown.offset).then(function (ans) {
        // Saved at once, even while the mask is still up: a tab closed now loses nothing.
        var rec = {
          trial: trial.t, phase: trial.ph, image: trial.img, attention: trial.att,
          exposure_ms: ex.ms, measured_ms: round1(shown.measured), frames: shown.frames,
          frame_ms: round1(S.frame_ms), response: ans.response, rt_ms: round1(ans.rt), input: ans.input,
          staircase_level: ex.level, page_hidden: hiddenDuringTrial || document.hidden,
          answered_at: nowIso()
        };
        var feedback = null;
        if (trial.truth !== undefined) {
          rec.correct = (ans.response === trial.truth);
          if (trial.ph === 'practice') feedback = rec.correct;
          if (ex.level !== null && !trial.att) updateStaircase(rec.correct);
        }
        S.trials.push(rec);
        S.next = k + 1;
        S.in_progress = null;
        save();
        return maskDone.then(function () {
          if (feedback === null) return undefined;
          var fb = $('feedback');
          fb.className = feedback ? 'right' : 'wrong';
          fb.textContent = (feedback ? 'Correct: ' : 'Not quite: ') + 'that image was ' +
            (trial.truth === 'real' ? 'real.' : 'fake (generated).');
          return new Promise(function (r) { setTimeout(r, FEEDBACK_MS); });
        });
      });
    });
  }

  // ---------- session flow ----------
  function waitContinue(title, text) {
    $('ready-title').textContent = title;
    $('ready-text').textContent = text;
    show('screen-ready');
    return new Promise(function (resolve) {
      function go() {
        document.removeEventListener('keydown', onKey);
        $('continue-btn').removeEventListener('click', go);
        show('screen-task');
        resolve();
      }
      function onKey(e) { if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); go(); } }
      document.addEventListener('keydown', onKey);
      $('continue-btn').addEventListener('click', go);
      $('continue-btn').focus();
    });
  }

  function runSession() {
    var trials = KIT.participants[S.participant];
    var nPractice = trials.filter(function (t) { return t.ph === 'practice'; }).length;
    var first = S.next;
    var keys = ' Answer with F or \u2190 for real, J or \u2192 for fake.';
    var intro;
    if (first > 0) intro = waitContinue('Welcome back', 'You are continuing at ' + progressText(trials, Math.min(first, trials.length - 1)) + '.' + keys);
    else if (nPractice > 0) intro = waitContinue('Practice', 'First ' + nPractice + ' practice trials. After each one you will see whether you were right.' + keys);
    else intro = waitContinue('Ready', 'The study begins now.' + keys);
    function step(k) {
      if (k >= trials.length) return finish();
      var p = Promise.resolve();
      if (k > 0 && k === nPractice && trials[k - 1].ph === 'practice' && k !== first) {
        p = waitContinue('Practice finished', 'The study begins now. From here on you will not be told whether you were right. Keep your eyes on the cross.');
      }
      return p.then(function () { return runTrial(trials, k); }).then(function () { return step(k + 1); });
    }
    return intro.then(function () { return step(first); });
  }

  function finish() {
    S.complete = true;
    S.finished_at = nowIso();
    save();
    $('progress-bar').style.width = '100%';
    show('screen-done');
    downloadAll();
  }

  // ---------- exports ----------
  var CSV_COLUMNS = ['kit_id', 'participant', 'trial', 'phase', 'image', 'attention', 'exposure_ms', 'measured_ms',
    'frames', 'frame_ms', 'response', 'rt_ms', 'input', 'staircase_level', 'page_hidden', 'answered_at'];
  function csvField(v) {
    if (v === null || v === undefined) return '';
    var s = String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function resultsCsv() {
    var lines = [CSV_COLUMNS.join(',')];
    S.trials.forEach(function (t) {
      var row = Object.assign({ kit_id: KIT.kit_id, participant: S.participant }, t);
      lines.push(CSV_COLUMNS.map(function (c) { return csvField(row[c]); }).join(','));
    });
    return lines.join('\n') + '\n';
  }
  function resultsJson() {
    // One trial per line, so a scorer can name the line of a bad trial.
    var head = {
      format: 'gandiag-human-responses', format_version: 1, kit_id: KIT.kit_id, gandiag_version: KIT.version,
      participant: S.participant, complete: !!S.complete, started_at: S.started_at,
      finished_at: S.finished_at || null, frame_ms: round1(S.frame_ms), user_agent: navigator.userAgent,
      screen: S.screen, interrupted_trials: S.interrupted
    };
    var out = '{\n';
    Object.keys(head).forEach(function (k) { out += '  ' + JSON.stringify(k) + ': ' + JSON.stringify(head[k]) + ',\n'; });
    out += '  "trials": [\n';
    out += S.trials.map(function (t) { return '    ' + JSON.stringify(t); }).join(',\n');
    out += (S.trials.length ? '\n' : '') + '  ]\n}\n';
    return out;
  }
  function download(name, text, type) {
    var url = URL.createObjectURL(new Blob([text], { type: type }));
    var a = document.createElement('a');
    a.href = url; a.download = name; a.style.display = 'none';
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }
  function baseName() { return 'gandiag-human-' + KIT.kit_id + '-' + S.participant; }
  function downloadJson() { download(baseName() + '.json', resultsJson(), 'application/json'); }
  function downloadCsv() { download(baseName() + '.csv', resultsCsv(), 'text/csv'); }
  function downloadAll() { downloadJson(); setTimeout(downloadCsv, 300); }

  // ---------- input ----------
  document.addEventListener('keydown', function (e) {
    if (!answerHandler || e.repeat) return;
    var k = e.key;
    if (k === 'f' || k === 'F' || k === 'ArrowLeft') { e.preventDefault(); answerHandler('real', 'key:' + k, e.timeStamp); }
    else if (k === 'j' || k === 'J' || k === 'ArrowRight') { e.preventDefault(); answerHandler('fake', 'key:' + k, e.timeStamp); }
  });
  $('btn-real').addEventListener('click', function (e) { if (answerHandler) answerHandler('real', 'button', e.timeStamp); });
  $('btn-fake').addEventListener('click', function (e) { if (answerHandler) answerHandler('fake', 'button', e.timeStamp); });
  document.addEventListener('visibilitychange', function () { if (document.hidden) hiddenDuringTrial = true; });
  $('dl-json').addEventListener('click', downloadJson);
  $('dl-csv').addEventListener('click', downloadCsv);

  // ---------- start screen ----------
  function start() {
    var err = $('start-error');
    var pid = $('pid-input').value.trim().toUpperCase();
    if (!$('consent-box').checked) { err.textContent = 'Please read the consent text and tick the box to take part.'; return; }
    if (!Object.prototype.hasOwnProperty.call(KIT.participants, pid)) {
      err.textContent = 'Unknown participant ID "' + pid + '". Valid IDs look like ' + Object.keys(KIT.participants)[0] + '; ask the experimenter.';
      return;
    }
    err.textContent = '';
    $('start-btn').disabled = true;
    S = loadState(pid);
    if (S && S.complete) { show('screen-done'); $('done-text').textContent = 'Participant ' + pid + ' has already finished this study in this browser. You can download the results again.'; return; }
    if (!S) {
      S = { participant: pid, kit_id: KIT.kit_id, started_at: nowIso(), next: 0, trials: [], complete: false,
            interrupted: [], in_progress: null, frame_ms: null,
            screen: { width: screen.width, height: screen.height, dpr: window.devicePixelRatio } };
      if (KIT.staircase) {
        S.stair = { level: KIT.staircase.ladder_ms.indexOf(KIT.staircase.start_ms), run_correct: 0, run_wrong: 0 };
      }
    }
    if (S.in_progress !== null && S.in_progress !== undefined) { S.interrupted.push(S.in_progress); S.in_progress = null; }
    Promise.all([
      Promise.all(Object.keys(KIT.images).map(function (id) { return decode(KIT.images[id]).then(function (im) { imgs[id] = im; }); })),
      Promise.all(KIT.masks.map(function (m) { return decode(m); })).then(function (ms) { masks = ms; })
    ]).then(estimateFrameMs).then(function (f) {
      S.frame_ms = f;
      save();
      return runSession();
    });
  }

  function init() {
    var stage = $('stage');
    stage.style.width = KIT.display_px + 'px';
    stage.style.height = KIT.display_px + 'px';
    fixation = document.createElement('div'); fixation.className = 'fixation'; fixation.textContent = '+';
    blank = document.createElement('div');
    $('consent-text').textContent = KIT.consent;
    $('kit-id').textContent = KIT.kit_id;
    var first = KIT.participants[Object.keys(KIT.participants)[0]];
    var np = first.filter(function (t) { return t.ph === 'practice'; }).length;
    $('n-practice').textContent = String(np);
    $('n-total').textContent = String(first.length);
    var perTrial = (KIT.fixation_ms + KIT.mask_ms + 1500 + Math.max.apply(null, KIT.exposures_ms)) / 1000;
    $('n-minutes').textContent = String(Math.max(1, Math.round(first.length * perTrial / 60)));
    $('start-btn').addEventListener('click', start);
    $('pid-input').addEventListener('keydown', function (e) { if (e.key === 'Enter') start(); });
  }
  init();
}());
