// gandiag human-export: the kit's trials as a jsPsych 8 timeline (for JATOS, Pavlovia, or a lab page).
// Two plugins: "gandiag-screen" (a text screen, Space/Enter/button to go on; optionally an id field) and
// "gandiag-trial" (fixation, image, backward mask, each a whole number of display frames counted in
// requestAnimationFrame callbacks, exactly as gandiag's own page does; answer F/left = K.left,
// J/right = K.right from the mask onset). Each trial's data is the page's trial record, so the export
// (the page's JSON format) is read by `gandiag human-score` like the page's own download.
/* global jsPsychModule, initJsPsych, GANDIAG_KIT */
(function () {
  'use strict';
  var PT = jsPsychModule.ParameterType;
  var KIT = GANDIAG_KIT;
  var S = { frame_ms: null, participant: null, trials: [], started_at: new Date().toISOString() };
  var imgs = {}, masks = [];
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function round1(x) { return Math.round(x * 10) / 10; }
  function frames(onFrame) {
    return new Promise(function (resolve) {
      function tick(ts) { var r = onFrame(ts); if (r !== undefined) resolve(r); else requestAnimationFrame(tick); }
      requestAnimationFrame(tick);
    });
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
  function decode(uri) {
    var im = new Image();
    im.alt = ''; im.draggable = false; im.src = uri;
    im.width = KIT.display_px; im.height = KIT.display_px;
    return (im.decode ? im.decode() : Promise.resolve()).then(function () { return im; });
  }

  // ---------- text screen ----------
  function ScreenPlugin(jsPsych) { this.jsPsych = jsPsych; }
  ScreenPlugin.info = { name: 'gandiag-screen', version: '1.0.0', parameters: {
    title: { type: PT.STRING, default: '' }, text: { type: PT.STRING, default: '' },
    button: { type: PT.STRING, default: 'Continue' }, ask_id: { type: PT.BOOL, default: false },
    consent: { type: PT.BOOL, default: false } }, data: {} };
  ScreenPlugin.prototype.trial = function (display, trial) {
    var self = this;
    display.innerHTML = '';
    var box = el('div', 'g-screen');
    box.appendChild(el('h1', '', trial.title));
    trial.text.split('\n\n').forEach(function (p) { box.appendChild(el('p', '', p)); });
    var input = null, check = null, msg = el('p', 'g-msg');
    if (trial.consent) {
      var lab = el('label');
      check = el('input'); check.type = 'checkbox'; check.id = 'g-consent';
      lab.appendChild(check); lab.appendChild(document.createTextNode(' I have read the text above and agree to take part.'));
      box.appendChild(lab);
    }
    if (trial.ask_id) {
      input = el('input'); input.id = 'g-pid'; input.placeholder = 'participant id (P01, P02, ...)';
      box.appendChild(input);
    }
    var btn = el('button', '', trial.button); btn.id = 'g-continue';
    box.appendChild(btn); box.appendChild(msg);
    display.appendChild(box);
    function go() {
      if (check && !check.checked) { msg.textContent = 'Please tick the consent box to take part.'; return; }
      if (input) {
        var pid = input.value.trim().toUpperCase();
        if (!KIT.participants[pid]) { msg.textContent = 'Unknown participant id ' + JSON.stringify(input.value) + '.'; return; }
        S.participant = pid;
      }
      document.removeEventListener('keydown', onKey);
      self.jsPsych.finishTrial({});
    }
    function onKey(e) { if ((e.key === ' ' || e.key === 'Enter') && !input) { e.preventDefault(); go(); } }
    btn.addEventListener('click', go);
    document.addEventListener('keydown', onKey);
  };

  // ---------- one trial ----------
  function TrialPlugin(jsPsych) { this.jsPsych = jsPsych; }
  TrialPlugin.info = { name: 'gandiag-trial', version: '1.0.0', parameters: {
    index: { type: PT.INT, default: 0 } }, data: {} };
  TrialPlugin.prototype.trial = function (display, params) {
    var self = this;
    var rows = KIT.participants[S.participant], trial = rows[params.index], K = KIT.keys[S.participant];
    var ready = S.frame_ms ? Promise.resolve(S.frame_ms) : estimateFrameMs().then(function (f) { S.frame_ms = f; return f; });
    var imP = trial.probe ? Promise.resolve(null) : (imgs[trial.img] ? Promise.resolve(imgs[trial.img]) :
      decode(KIT.images[trial.img]).then(function (im) { imgs[trial.img] = im; return im; }));
    var maskIndex = (trial.t - 1) % KIT.masks.length;
    var maskP = masks[maskIndex] ? Promise.resolve(masks[maskIndex]) :
      decode(KIT.masks[maskIndex]).then(function (im) { masks[maskIndex] = im; return im; });
    Promise.all([ready, imP, maskP]).then(function (got) {
      var F = got[0], image = got[1], mask = got[2];
      if (trial.probe) {
        image = el('div', 'g-probe', 'Answer ' + (trial.probe === 'real' ? 'REAL' : 'FAKE') + ' for this one');
      }
      display.innerHTML = '';
      var same = rows.filter(function (r) { return r.ph === trial.ph; });
      var progress = el('div', 'g-progress', (trial.ph === 'practice' ? 'Practice ' : 'Trial ') + (same.indexOf(trial) + 1) + ' of ' + same.length);
      var stage = el('div', 'g-stage'); stage.id = 'g-stage';
      stage.style.width = stage.style.height = KIT.display_px + 'px';
      var prompt = el('div', 'g-prompt'); prompt.id = 'g-prompt'; prompt.dataset.ready = '0';
      prompt.appendChild(el('p', '', 'Was that image real or fake?'));
      var bl = el('button', '', (K.left === 'real' ? 'Real' : 'Fake') + ' [F]'), br = el('button', '', (K.right === 'real' ? 'Real' : 'Fake') + ' [J]');
      bl.disabled = br.disabled = true; prompt.appendChild(bl); prompt.appendChild(br);
      var fb = el('p', 'g-feedback'); fb.id = 'g-feedback';
      display.appendChild(progress); display.appendChild(stage); display.appendChild(prompt); display.appendChild(fb);
      var fixation = el('div', 'g-fixation', '+'), blank = el('div');
      function setStage(node, showing) { while (stage.firstChild) stage.removeChild(stage.firstChild); stage.appendChild(node); stage.dataset.showing = showing; }
      var nFix = Math.round(KIT.fixation_ms / F), nEx = Math.round(trial.ex / F), nMask = Math.round(KIT.mask_ms / F);
      var phase = 'start', tFix = null, tOn = null, tOff = null, tBlank = null, prev = null, late = 0, exFrames = 0, maxGap = 0;
      var answer = null, shown = null, hidden = document.hidden;
      function respond(side, how, stamp) {
        if (answer || tOff === null) return;
        answer = { response: side === 'left' ? K.left : K.right, input: how, rt: stamp - tOff };
        prompt.dataset.ready = '0'; bl.disabled = br.disabled = true;
        maybeEnd();
      }
      function onKey(e) {
        var k = e.key;
        if (k === 'f' || k === 'F' || k === 'ArrowLeft') respond('left', 'key:' + k.toLowerCase(), performance.now());
        else if (k === 'j' || k === 'J' || k === 'ArrowRight') respond('right', 'key:' + k.toLowerCase(), performance.now());
      }
      bl.addEventListener('click', function () { respond('left', 'click', performance.now()); });
      br.addEventListener('click', function () { respond('right', 'click', performance.now()); });
      document.addEventListener('keydown', onKey);
      function maybeEnd() {
        if (!answer || !shown) return;
        document.removeEventListener('keydown', onKey);
        var rec = { trial: trial.t, phase: trial.ph, image: trial.img, attention: trial.att, exposure_ms: trial.ex };
        Object.assign(rec, shown, { frame_ms: round1(F), response: answer.response, rt_ms: round1(answer.rt), input: answer.input,
          staircase_level: null, page_hidden: hidden || document.hidden, answered_at: new Date().toISOString(),
          key_map: 'F=' + K.left + ',J=' + K.right });
        if (trial.truth !== undefined) rec.correct = (answer.response === trial.truth);
        S.trials.push(rec);
        var data = Object.assign({ kit_id: KIT.kit_id, study_id: KIT.study_id, participant: S.participant }, rec);
        if (trial.truth !== undefined && (trial.ph === 'practice' || KIT.feedback_all)) {
          fb.textContent = (rec.correct ? 'Correct: ' : 'Not quite: ') + 'that image was ' + (trial.truth === 'real' ? 'real.' : 'fake (generated).');
          setTimeout(function () { self.jsPsych.finishTrial(data); }, 1000);
        } else self.jsPsych.finishTrial(data);
      }
      frames(function (ts) {
        if (prev !== null) { var gap = ts - prev; if (gap > maxGap) maxGap = gap; if (gap > 1.5 * F) late += 1; }
        prev = ts;
        if (phase === 'start') { tFix = ts; setStage(fixation, 'fixation'); phase = 'fixation'; return undefined; }
        if (phase === 'fixation') { if (ts - tFix >= (nFix - 0.5) * F) { setStage(image, 'stimulus'); tOn = ts; phase = 'stimulus'; } return undefined; }
        if (phase === 'stimulus') {
          exFrames += 1;
          if (ts - tOn >= (nEx - 0.5) * F) {
            setStage(mask, 'mask'); tOff = ts; phase = 'mask';
            prompt.dataset.ready = '1'; bl.disabled = br.disabled = false;
          }
          return undefined;
        }
        if (phase === 'mask') { if (ts - tOff >= (nMask - 0.5) * F) { setStage(blank, 'blank'); tBlank = ts; phase = 'confirm'; } return undefined; }
        var measured = tOff - tOn, maskMeasured = tBlank - tOff, fixMeasured = tOn - tFix;
        var off = Math.abs(measured - nEx * F) >= 0.5 * F || Math.abs(maskMeasured - nMask * F) >= 0.5 * F ||
                  Math.abs(fixMeasured - nFix * F) >= 0.5 * F;
        return { exposure_frames: nEx, measured_ms: round1(measured), frames: exFrames, mask_measured_ms: round1(maskMeasured),
          fixation_measured_ms: round1(fixMeasured), late_frames: late, max_frame_gap_ms: round1(maxGap), timing_ok: !off && late === 0 };
      }).then(function (t) { shown = t; maybeEnd(); });
    });
  };

  // ---------- the export human-score reads (the page's JSON format) ----------
  function resultsJson() {
    var head = { format: 'gandiag-human-responses', format_version: 2, kit_id: KIT.kit_id, study_id: KIT.study_id,
      gandiag_version: KIT.version, participant: S.participant, complete: S.trials.length === KIT.participants[S.participant].length,
      started_at: S.started_at, finished_at: new Date().toISOString(), frame_ms: S.frame_ms === null ? null : round1(S.frame_ms),
      user_agent: navigator.userAgent, screen: { width: screen.width, height: screen.height }, runner: 'jspsych ' + (S.jsPsych && S.jsPsych.version ? S.jsPsych.version() : '?'),
      interrupted_trials: [] };
    var out = '{\n';
    Object.keys(head).forEach(function (k) { out += '  ' + JSON.stringify(k) + ': ' + JSON.stringify(head[k]) + ',\n'; });
    out += '  "trials": [\n' + S.trials.map(function (t) { return '    ' + JSON.stringify(t); }).join(',\n') + '\n  ]\n}\n';
    return out;
  }
  function download(text, name) {
    var a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    a.download = name; document.body.appendChild(a); a.click();
  }
  window.gandiagResultsJson = resultsJson;

  function run() {
    var jatos = window.jatos;
    var params = new URLSearchParams(location.search);
    // JATOS hands the study link's query parameters to the component as jatos.urlQueryParameters.
    var fromJatos = (jatos && jatos.urlQueryParameters && jatos.urlQueryParameters.participant) || '';
    var pid = String(params.get('participant') || fromJatos).toUpperCase();
    if (KIT.participants[pid]) S.participant = pid;
    var jsPsych = initJsPsych({
      display_element: 'gandiag',
      on_finish: function () {
        var text = resultsJson(), name = 'gandiag-human-' + KIT.kit_id + '-' + S.participant + '.json';
        document.body.dataset.done = '1';
        if (jatos) { jatos.submitResultData(text).then(function () { jatos.endStudy(); }); return; }
        document.getElementById('gandiag').textContent = KIT.debrief + ' Your answers were saved as ' + name + '.';
        download(text, name);
      }
    });
    var timeline = [{ type: ScreenPlugin, title: document.title, text: KIT.instructions + '\n\n' + KIT.consent,
      button: 'Start', consent: true, ask_id: !S.participant }];
    timeline.push({ timeline: [{ type: ScreenPlugin, title: 'Ready', button: 'Begin',
      text: function () { var K = KIT.keys[S.participant]; return 'Answer with F or \u2190 for ' + K.left + ', J or \u2192 for ' + K.right + '.'; } }] });
    // One node per trial index; participants' sessions may differ in length, so an index past this
    // participant's last trial is skipped.
    var n = Math.max.apply(null, Object.keys(KIT.participants).map(function (p) { return KIT.participants[p].length; }));
    var trialNode = { timeline: [{ type: TrialPlugin, index: jsPsych.timelineVariable('index') }],
      conditional_function: function () {
        return jsPsych.evaluateTimelineVariable('index') < KIT.participants[S.participant].length; } };
    timeline.push({ timeline: [trialNode], timeline_variables: Array.from({ length: n }, function (_, i) { return { index: i }; }) });
    S.jsPsych = jsPsych;
    jsPsych.run(timeline);
  }
  window.gandiagRun = run;
})();
