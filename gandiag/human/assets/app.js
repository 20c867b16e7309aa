// gandiag human-kit page: rapid "real or fake?" categorization (Denton et al. 2015; HYPE, Zhou et al. 2019).
// Plain ES2017, no libraries, no network. Timing: every screen change happens inside a
// requestAnimationFrame callback, and exposure is measured between the frame that showed the image
// and the frame that replaced it by the mask (both changes reach the display with the same latency).
(function () {
  'use strict';
  var KIT = JSON.parse(document.getElementById('kit-data').textContent);
  // Keyed by the study: a kit grown with more participants keeps everyone's saved progress.
  var STORE = 'gandiag-human/' + KIT.study_id + '/';
  var FEEDBACK_MS = 700;
  var $ = function (id) { return document.getElementById(id); };
  var S = null;            // session state, saved to localStorage after every answer
  var imgs = {};           // image id -> decoded <img>
  var masks = [];          // decoded mask <img>s
  var fixation = null;     // the fixation-cross element
  var blank = null;        // empty element (stage shows background only)
  var answerHandler = null;
  var hiddenDuringTrial = false;
  var TAB = Math.random().toString(36).slice(2) + Date.now().toString(36);  // this tab's ownership token
  var stopped = false;     // another tab took over this participant: stop without writing
  var K = { left: 'real', right: 'fake' };  // this participant's keys: F / left arrow / left button, J / right
  // Served by `gandiag human-serve` (http/https with a server block): answers are also sent to the server.
  var SERVER = (function () {
    var el = document.getElementById('server-config');
    return (el && /^https?:$/.test(location.protocol)) ? JSON.parse(el.textContent) : null;
  }());

  // ---------- small helpers ----------
  function show(id) {
    var screens = document.querySelectorAll('.screen');
    for (var i = 0; i < screens.length; i++) screens[i].hidden = (screens[i].id !== id);
    document.body.dataset.screen = id.replace('screen-', '');
  }
  function nowIso() { return new Date().toISOString(); }
  // Saves the session unless another tab has taken this participant over (then this tab stops, so
  // the two can never overwrite each other's answers: the newer tab continues from the stored state).
  function save() {
    if (stopped) return false;
    var stored = loadState(S.participant);
    if (stored && stored.owner && stored.owner !== TAB) {
      stopped = true;
      answerHandler = null;
      show('screen-taken');
      return false;
    }
    try { localStorage.setItem(STORE + S.participant, JSON.stringify(S)); }
    catch (e) { $('feedback').textContent = 'Warning: this browser cannot store results (' + e.name + ').'; }
    return true;
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
  // Every duration is a whole number of frames of this display: the nearest one (halves round up,
  // Math.round), computed from the session's frame estimate, so a condition gets the same number of
  // frames on every trial (75 ms at 60 Hz = 4.5 frames -> always 5 frames = 83.3 ms).
  function toFrames(ms) { return Math.round(ms / S.frame_ms); }
  function stimulusFor(trial) {
    if (trial.probe) {
      var p = document.createElement('div');
      p.className = 'probe';
      p.textContent = 'Answer ' + (trial.probe === 'real' ? 'REAL' : 'FAKE') + ' for this one';
      return p;
    }
    return imgs[trial.img];
  }
  // One animation-frame loop: fixation (nFix frames), image (nEx frames), mask (nMask frames), blank,
  // and one more frame. A screen change made in a frame callback reaches the display with that frame;
  // if the next callback comes more than 1.5 frames later, that frame (or one in between) was late
  // (busy main thread, hidden tab) and the durations on screen are not what was measured.
  // Untimed (HYPE_inf): fixation, then the image until the answer (answers allowed from its onset), blank.
  function presentUntimed(trial, onShown, answered) {
    var F = S.frame_ms, nFix = toFrames(KIT.fixation_ms), image = stimulusFor(trial);
    var phase = 'start', tFix = null, tOn = null, tBlank = null, prev = null, late = 0, maxGap = 0, n = 0;
    return frames(function (ts) {
      if (prev !== null) {
        var gap = ts - prev;
        // Late frames matter only until the image is confirmed on screen (its viewing time is free).
        if (phase !== 'stimulus' && phase !== 'confirm') { if (gap > maxGap) maxGap = gap; if (gap > 1.5 * F) late += 1; }
      }
      prev = ts;
      if (stopped) return null;
      if (phase === 'start') {
        tFix = ts;
        if (nFix > 0) { setStage(fixation, 'fixation'); phase = 'fixation'; return undefined; }
        phase = 'fixation';
      }
      if (phase === 'fixation') {
        if (ts - tFix >= (nFix - 0.5) * F) { setStage(image, 'stimulus'); tOn = ts; phase = 'onset'; }
        return undefined;
      }
      if (phase === 'onset') {
        phase = 'stimulus';
        onShown(tOn, timingFields(null, null, 0, null, tOn - tFix, late, maxGap, false));
      }
      if (phase === 'stimulus') {
        n += 1;
        if (answered.done) { setStage(blank, 'blank'); tBlank = ts; phase = 'confirm'; }
        return undefined;
      }
      var fixMeasured = tOn - tFix;
      var ok = Math.abs(fixMeasured - nFix * F) < 0.5 * F && late === 0;
      return timingFields(null, tBlank - tOn, n, null, fixMeasured, late, maxGap, ok);
    });
  }
  function present(trial, exposure, onMask, answered) {
    if (KIT.untimed) return presentUntimed(trial, onMask, answered);
    var F = S.frame_ms;
    var nFix = toFrames(KIT.fixation_ms), nEx = toFrames(exposure), nMask = toFrames(KIT.mask_ms);
    var image = stimulusFor(trial);
    var mask = masks[(trial.t - 1) % masks.length];
    var phase = 'start', tFix = null, tOn = null, tOff = null, tBlank = null, prev = null;
    var late = 0, exFrames = 0, maxGap = 0;
    return frames(function (ts) {
      if (prev !== null) {
        var gap = ts - prev;
        if (gap > maxGap) maxGap = gap;
        if (gap > 1.5 * F) late += 1;
      }
      prev = ts;
      if (stopped) return null;
      if (phase === 'start') {
        tFix = ts;
        if (nFix > 0) { setStage(fixation, 'fixation'); phase = 'fixation'; return undefined; }
        phase = 'fixation';
      }
      if (phase === 'fixation') {
        if (ts - tFix >= (nFix - 0.5) * F) { setStage(image, 'stimulus'); tOn = ts; phase = 'stimulus'; }
        return undefined;
      }
      if (phase === 'stimulus') {
        exFrames += 1;
        if (ts - tOn >= (nEx - 0.5) * F) {
          setStage(mask, 'mask'); tOff = ts; phase = 'mask';
          // Provisional: an answer saved before the mask ends is flagged until the mask is verified.
          onMask(tOff, timingFields(nEx, tOff - tOn, exFrames, null, tOn - tFix, late, maxGap, false));
        }
        return undefined;
      }
      if (phase === 'mask') {
        if (ts - tOff >= (nMask - 0.5) * F) { setStage(blank, 'blank'); tBlank = ts; phase = 'confirm'; }
        return undefined;
      }
      var measured = tOff - tOn, maskMeasured = tBlank - tOff, fixMeasured = tOn - tFix;
      var off = Math.abs(measured - nEx * F) >= 0.5 * F || Math.abs(maskMeasured - nMask * F) >= 0.5 * F ||
                Math.abs(fixMeasured - nFix * F) >= 0.5 * F;
      return timingFields(nEx, measured, exFrames, maskMeasured, fixMeasured, late, maxGap, !off && late === 0);
    });
  }
  function timingFields(nEx, measured, exFrames, maskMeasured, fixMeasured, late, maxGap, ok) {
    return {
      exposure_frames: nEx, measured_ms: measured === null ? null : round1(measured), frames: exFrames,
      mask_measured_ms: maskMeasured === null ? null : round1(maskMeasured),
      fixation_measured_ms: round1(fixMeasured), late_frames: late, max_frame_gap_ms: round1(maxGap), timing_ok: ok
    };
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

  function exposureFor(trial) {
    if (trial.ex !== null || KIT.untimed) return { ms: trial.ex, level: null };
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
    if (!save()) return Promise.resolve();
    var answerSaved = null, answered = { done: false };
    var shownP = present(trial, ex.ms, function (offset, provisional) {
      // The answer is saved the moment it is given (a tab closed now loses nothing), with the timing
      // known so far (timing_ok false until the mask is verified); the final timing replaces it.
      answerSaved = waitAnswer(offset).then(function (ans) {
        answered.done = true;
        if (stopped) return null;
        var rec = Object.assign({
          trial: trial.t, phase: trial.ph, image: trial.img, attention: trial.att, exposure_ms: ex.ms
        }, provisional, {
          frame_ms: round1(S.frame_ms), response: ans.response, rt_ms: round1(ans.rt), input: ans.input,
          staircase_level: ex.level, page_hidden: hiddenDuringTrial || document.hidden, answered_at: nowIso(),
          key_map: 'F=' + K.left + ',J=' + K.right
        });
        if (trial.truth !== undefined) {
          rec.correct = (ans.response === trial.truth);
          if (ex.level !== null && !trial.att) updateStaircase(rec.correct);
        }
        S.trials.push(rec);
        S.next = k + 1;
        S.in_progress = null;
        return save() ? rec : null;
      });
    }, answered);
    return shownP.then(function (shown) {
      if (shown === null) return null;
      return answerSaved.then(function (rec) {
        if (rec === null) return null;
        Object.assign(rec, shown);
        rec.page_hidden = rec.page_hidden || hiddenDuringTrial || document.hidden;
        if (S.final) S.final[rec.trial] = true;
        if (!save()) return null;
        flush();
        if (trial.ph !== 'practice' && !(KIT.feedback_all && trial.truth !== undefined)) return null;
        var fb = $('feedback');
        fb.className = rec.correct ? 'right' : 'wrong';
        fb.textContent = (rec.correct ? 'Correct: ' : 'Not quite: ') + 'that image was ' +
          (trial.truth === 'real' ? 'real.' : 'fake (generated).');
        return new Promise(function (r) { setTimeout(r, FEEDBACK_MS); });
      });
    });
  }

  // ---------- session flow ----------
  function waitContinue(title, text) {
    $('ready-title').textContent = title;
    $('ready-text').textContent = text;
    return waitScreen('screen-ready', 'continue-btn');
  }
  // Show a screen until Space / Enter / its button, then the task screen.
  function waitScreen(screenId, buttonId) {
    show(screenId);
    return new Promise(function (resolve) {
      function go() {
        document.removeEventListener('keydown', onKey);
        $(buttonId).removeEventListener('click', go);
        show('screen-task');
        resolve();
      }
      function onKey(e) { if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); go(); } }
      document.addEventListener('keydown', onKey);
      $(buttonId).addEventListener('click', go);
      $(buttonId).focus();
    });
  }

  // ---------- display: integer pixel scaling that fits the window ----------
  // Every image pixel becomes k x k device pixels (k a whole number), with the stage no larger than
  // display_px CSS pixels and small enough that the progress line, the stage and the answer buttons all
  // fit in the window (the arrow keys answer, so nobody could scroll to buttons below the fold).
  function fitStage() {
    var dpr = window.devicePixelRatio || 1;
    var stage = $('stage'), screens = document.querySelectorAll('.screen'), saved = [];
    for (var i = 0; i < screens.length; i++) { saved.push(screens[i].hidden); screens[i].hidden = screens[i].id !== 'screen-task'; }
    stage.style.width = '0px'; stage.style.height = '0px';
    // Everything on the task screen but the stage (main's bottom includes its padding).
    var reserve = Math.ceil(document.querySelector('main').getBoundingClientRect().bottom);
    var width = $('screen-task').clientWidth - 16;
    for (var j = 0; j < screens.length; j++) screens[j].hidden = saved[j];
    var maxCss = Math.min(KIT.display_px, window.innerHeight - reserve, width);
    var k = Math.floor(maxCss * dpr / KIT.image_px + 1e-9);
    var css = k * KIT.image_px / dpr;
    stage.style.width = css + 'px'; stage.style.height = css + 'px';
    return { scale: k, stage_css_px: round1(css), window: [window.innerWidth, window.innerHeight], dpr: dpr,
             fullscreen: !!document.fullscreenElement };
  }
  function describeDisplay(fit) {
    return 'Your window is ' + fit.window[0] + ' \u00d7 ' + fit.window[1] + ' pixels and the screen refreshes about ' +
      Math.round(1000 / S.frame_ms) + ' times per second. Images will be shown ' + Math.round(fit.stage_css_px) +
      ' pixels wide (each image pixel as ' + fit.scale + ' \u00d7 ' + fit.scale + ' screen pixels).';
  }
  function refit() {
    if (!S || !S.display) return;
    var fit = fitStage();
    if (fit.scale >= 1) { S.display = fit; $('display-text').textContent = describeDisplay(fit); save(); }
  }
  function displayCheck(fit) {
    $('display-text').textContent = describeDisplay(fit);
    $('fullscreen-btn').hidden = !document.documentElement.requestFullscreen;
    return waitScreen('screen-display', 'display-continue-btn');
  }
  function setButtons() {
    var real = $('btn-real'), fake = $('btn-fake');
    var left = K.left === 'real' ? real : fake, right = left === real ? fake : real;
    $('prompt').insertBefore(left, right);  // the left button answers like F and the left arrow
    document.body.dataset.left = K.left;
    [[left, 'F'], [right, 'J']].forEach(function (bk) {
      bk[0].textContent = (bk[0] === real ? 'Real ' : 'Fake ');
      var kbd = document.createElement('kbd'); kbd.textContent = bk[1]; bk[0].appendChild(kbd);
    });
  }

  // ---------- optional demographics (every answer may be "prefer not to say") ----------
  function askDemographics() {
    show('screen-demographics');
    return new Promise(function (resolve) {
      function done() {
        $('demo-submit').removeEventListener('click', done);
        S.demographics = { age: $('demo-age').value, gender: $('demo-gender').value, vision: $('demo-vision').value };
        S.demographics_done = true;
        save();
        resolve();
      }
      $('demo-submit').addEventListener('click', done);
    });
  }

  function runSession() {
    var trials = KIT.participants[S.participant];
    var nPractice = trials.filter(function (t) { return t.ph === 'practice'; }).length;
    var first = S.next;
    var keys = ' Answer with F or \u2190 for ' + K.left + ', J or \u2192 for ' + K.right + '.';
    var intro;
    if (first > 0) intro = waitContinue('Welcome back', 'You are continuing at ' + progressText(trials, Math.min(first, trials.length - 1)) + '.' + keys);
    else if (nPractice > 0) intro = waitContinue('Practice', 'First ' + nPractice + ' practice trials. After each one you will see whether you were right.' + keys);
    else intro = waitContinue('Ready', 'The study begins now.' + keys);
    function step(k) {
      if (stopped) return undefined;
      if (k >= trials.length) return finish();
      var p = Promise.resolve();
      // Also when resuming right after the last practice trial: the "no more feedback" notice must be seen.
      if (k > 0 && k === nPractice && trials[k - 1].ph === 'practice') {
        p = waitContinue('Practice finished', 'The study begins now. ' + (KIT.feedback_all ?
          'You will still be told after each image whether you were right.' :
          'From here on you will not be told whether you were right.') + ' Keep your eyes on the cross.' + keys);
      }
      return p.then(function () { return runTrial(trials, k); }).then(function () { return step(k + 1); });
    }
    return intro.then(function () { return step(first); });
  }

  function finish() {
    if (KIT.demographics && !S.demographics_done) { askDemographics().then(finish); return; }
    S.complete = true;
    S.finished_at = S.finished_at || nowIso();
    if (!save()) return;
    $('progress-bar').style.width = '100%';
    show('screen-done');
    if (SERVER) finishOnServer(); else downloadAll();
  }

  // ---------- server: every answer is sent, re-sent until acknowledged (the server stores it once) ----------
  var sending = false, retryMs = 500;
  function post(route, body) {
    return fetch(SERVER.api + route, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), cache: 'no-store'
    }).then(function (res) {
      return res.json().then(function (j) { j.status = res.status; return j; },
        function () { return { ok: false, status: res.status, error: 'unreadable reply' }; });
    }, function () { return { ok: false, status: 0, error: 'the study server cannot be reached' }; });
  }
  function unsent() {
    return S.trials.filter(function (t) { return S.final[t.trial] && !S.sent[t.trial]; });
  }
  function flush() {
    if (!SERVER || sending || stopped || !S) return;
    var next = unsent()[0];
    if (!next) return;
    sending = true;
    post('answer', { kit_id: KIT.kit_id, participant: S.participant, token: S.token, record: next }).then(function (r) {
      sending = false;
      if (r.ok) {
        S.sent[next.trial] = true; retryMs = 500; save(); flush();
      } else if (r.status === 0 || r.status >= 500) {
        // Server down or restarting: keep the answer and try again (it is also in this browser).
        setTimeout(flush, retryMs); retryMs = Math.min(5000, retryMs * 2);
      } else {
        S.refused[next.trial] = r.error; S.sent[next.trial] = true; save(); flush();
      }
    });
  }
  function finishOnServer() {
    var left = unsent().length;
    $('done-text').textContent = left ? 'Sending your answers to the study server (' + left + ' left). Please keep ' +
      'this page open.' : 'Checking with the study server...';
    if (left) { flush(); setTimeout(finishOnServer, 300); return; }
    post('finish', { kit_id: KIT.kit_id, participant: S.participant, token: S.token,
                     demographics: S.demographics || null }).then(function (r) {
      if (!r.ok) {
        if (r.status === 0 || r.status >= 500) { setTimeout(finishOnServer, retryMs); return; }
        $('done-text').textContent = 'The study server did not accept the end of the session: ' + r.error +
          ' Please contact the organiser and mention kit ' + KIT.kit_id + '.';
        return;
      }
      $('done-text').textContent = 'You have finished, and all your answers have been received.';
      $('done-text').dataset.finished = '1';
      if (r.completion_code) { $('completion-code').textContent = r.completion_code; $('completion').hidden = false; }
      if (r.redirect_url) {
        $('redirect-link').href = r.redirect_url; $('redirect').hidden = false;
        setTimeout(function () { location.href = r.redirect_url; }, 3000);
      }
    });
  }

  // ---------- exports ----------
  var CSV_COLUMNS = ['kit_id', 'study_id', 'participant', 'trial', 'phase', 'image', 'attention', 'exposure_ms', 'exposure_frames',
    'measured_ms', 'frames', 'mask_measured_ms', 'fixation_measured_ms', 'late_frames', 'max_frame_gap_ms',
    'timing_ok', 'frame_ms', 'response', 'rt_ms', 'input', 'staircase_level', 'page_hidden', 'answered_at'];
  function csvField(v) {
    if (v === null || v === undefined) return '';
    var s = String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function resultsCsv() {
    var lines = [CSV_COLUMNS.join(',')];
    S.trials.forEach(function (t) {
      var row = Object.assign({ kit_id: KIT.kit_id, study_id: KIT.study_id, participant: S.participant }, t);
      lines.push(CSV_COLUMNS.map(function (c) { return csvField(row[c]); }).join(','));
    });
    return lines.join('\n') + '\n';
  }
  function resultsJson() {
    // One trial per line, so a scorer can name the line of a bad trial.
    var head = {
      format: 'gandiag-human-responses', format_version: 2, kit_id: KIT.kit_id, study_id: KIT.study_id,
      gandiag_version: KIT.version,
      participant: S.participant, complete: !!S.complete, started_at: S.started_at,
      finished_at: S.finished_at || null, frame_ms: round1(S.frame_ms), user_agent: navigator.userAgent,
      screen: S.screen, display: S.display || null, demographics: S.demographics || null,
      interrupted_trials: S.interrupted
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
    if (k === 'f' || k === 'F' || k === 'ArrowLeft') { e.preventDefault(); answerHandler(K.left, 'key:' + k, e.timeStamp); }
    else if (k === 'j' || k === 'J' || k === 'ArrowRight') { e.preventDefault(); answerHandler(K.right, 'key:' + k, e.timeStamp); }
  });
  $('btn-real').addEventListener('click', function (e) { if (answerHandler) answerHandler('real', 'button', e.timeStamp); });
  $('btn-fake').addEventListener('click', function (e) { if (answerHandler) answerHandler('fake', 'button', e.timeStamp); });
  document.addEventListener('visibilitychange', function () { if (document.hidden) hiddenDuringTrial = true; });
  $('dl-json').addEventListener('click', downloadJson);
  $('dl-csv').addEventListener('click', downloadCsv);

  // ---------- start screen ----------
  function start() {
    var err = $('start-error');
    if (!$('consent-box').checked) { err.textContent = 'Please read the consent text and tick the box to take part.'; return; }
    if (SERVER) return startOnServer();
    var pid = $('pid-input').value.trim().toUpperCase();
    if (!Object.prototype.hasOwnProperty.call(KIT.participants, pid)) {
      err.textContent = 'Unknown participant ID "' + pid + '". Valid IDs look like ' + Object.keys(KIT.participants)[0] + '; ask the experimenter.';
      return;
    }
    err.textContent = '';
    $('start-btn').disabled = true;
    beginSession(pid, null);
  }

  // The server gives each new id (from the URL or typed) the next free trial order and a token; the
  // same id in the same browser resumes; a finished id, or one started in another browser, is refused.
  function startOnServer() {
    var err = $('start-error');
    var external = $('pid-input').value.trim();
    if (!external) { err.textContent = 'Please enter your participant ID.'; return; }
    var tokenKey = STORE + 'token/' + external;
    var token = null;
    try { token = localStorage.getItem(tokenKey); } catch (e) { token = null; }
    $('start-btn').disabled = true;
    err.textContent = 'Contacting the study server...';
    post('start', { kit_id: KIT.kit_id, external_id: external, token: token,
                    info: { screen: [screen.width, screen.height], dpr: window.devicePixelRatio } }).then(function (r) {
      if (!r.ok) { err.textContent = r.error; $('start-btn').disabled = false; return; }
      err.textContent = '';
      try { localStorage.setItem(tokenKey, r.token); } catch (e) { /* the session still runs */ }
      beginSession(r.participant, { token: r.token, answered: r.answered });
    });
  }

  function beginSession(pid, server) {
    var err = $('start-error');
    K = KIT.keys[pid] || K;
    setButtons();
    S = loadState(pid);
    if (S && S.complete && !server) { show('screen-done'); $('done-text').textContent = 'Participant ' + pid + ' has already finished this study in this browser. You can download the results again.'; return; }
    if (!S) {
      S = { participant: pid, kit_id: KIT.kit_id, started_at: nowIso(), next: 0, trials: [], complete: false,
            interrupted: [], in_progress: null, frame_ms: null,
            screen: { width: screen.width, height: screen.height, dpr: window.devicePixelRatio } };
      if (KIT.staircase) {
        S.stair = { level: KIT.staircase.ladder_ms.indexOf(KIT.staircase.start_ms), run_correct: 0, run_wrong: 0 };
      }
    }
    if (S.in_progress !== null && S.in_progress !== undefined) { S.interrupted.push(S.in_progress); S.in_progress = null; }
    if (server) {
      S.token = server.token;
      S.sent = S.sent || {}; S.final = S.final || {}; S.refused = S.refused || {};
      server.answered.forEach(function (n) { S.sent[n] = true; });
      // Records of an earlier visit are final now (a provisional one is never completed).
      S.trials.forEach(function (t) { S.final[t.trial] = true; });
    }
    S.owner = TAB;  // take over: from now on an older tab with this id stops at its next save
    try { localStorage.setItem(STORE + pid, JSON.stringify(S)); } catch (e) { /* reported by save() */ }
    Promise.all([
      Promise.all(Object.keys(KIT.images).map(function (id) { return decode(KIT.images[id]).then(function (im) { imgs[id] = im; }); })),
      Promise.all(KIT.masks.map(function (m) { return decode(m); })).then(function (ms) { masks = ms; })
    ]).then(estimateFrameMs).then(function (f) {
      S.frame_ms = f;
      // Sub-frame exposures cannot be shown: refuse rather than show a frame longer than designed.
      var all = KIT.untimed ? [] : KIT.exposures_ms.concat(KIT.staircase ? KIT.staircase.ladder_ms : []);
      var tooShort = all.filter(function (ms) { return toFrames(ms) < 1; });
      if (tooShort.length) {
        show('screen-start');
        $('start-btn').disabled = false;
        err.textContent = 'This display refreshes only every ' + round1(f) + ' ms, too slowly for the ' +
          tooShort[0] + ' ms images of this study. Please use another screen or ask the experimenter.';
        return undefined;
      }
      var fit = fitStage();
      if (fit.scale < 1) {
        show('screen-start');
        $('start-btn').disabled = false;
        err.textContent = 'This window is too small to show the images (' + fit.window[0] + ' \u00d7 ' + fit.window[1] +
          ' pixels). Please enlarge the window or use another screen.';
        return undefined;
      }
      S.display = fit;
      save();
      flush();
      if (S.complete) { finish(); return undefined; }
      return displayCheck(fit).then(runSession);
    });
  }

  function init() {
    fixation = document.createElement('div'); fixation.className = 'fixation'; fixation.textContent = '+';
    blank = document.createElement('div');
    $('consent-text').textContent = KIT.consent;
    $('instructions-text').textContent = KIT.instructions;
    $('debrief-text').textContent = KIT.debrief;
    $('fullscreen-btn').addEventListener('click', function () {
      var r = document.documentElement.requestFullscreen && document.documentElement.requestFullscreen();
      if (r && r.catch) r.catch(function () { $('display-text').textContent += ' (Full screen was refused.)'; });
    });
    document.addEventListener('fullscreenchange', refit);
    window.addEventListener('resize', refit);
    $('kit-id').textContent = KIT.kit_id;
    var first = KIT.participants[Object.keys(KIT.participants)[0]];
    var np = first.filter(function (t) { return t.ph === 'practice'; }).length;
    $('n-practice').textContent = String(np);
    if (np === 0) $('practice-note').hidden = true;
    $('n-total').textContent = String(first.length);
    var perTrial = (KIT.fixation_ms + (KIT.untimed ? 3000 : KIT.mask_ms + 1500 + Math.max.apply(null, KIT.exposures_ms))) / 1000;
    $('n-minutes').textContent = String(Math.max(1, Math.round(first.length * perTrial / 60)));
    $('start-btn').addEventListener('click', start);
    $('pid-input').addEventListener('keydown', function (e) { if (e.key === 'Enter') start(); });
    if (SERVER) {
      $('storage-note').textContent = 'Your answers are sent to the study server as you give them (and kept in ' +
        'this browser until the server confirms them). Kit ' + KIT.kit_id + '.';
      $('pid-label').textContent = 'Your participant ID:';
      $('pid-input').placeholder = '';
      var params = new URLSearchParams(location.search);
      for (var i = 0; i < SERVER.id_params.length; i++) {
        var v = params.get(SERVER.id_params[i]);
        if (v) {
          // From the crowd platform's link: shown, not editable.
          $('pid-input').value = v; $('pid-input').readOnly = true;
          $('pid-label').textContent = 'Your ID (from the link you followed):';
          break;
        }
      }
    }
  }
  init();
}());
