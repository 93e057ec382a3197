// The release page's script: polls the page server's JSON API and renders it. Plain browser ESM,
// no build step; Chart.js is the UMD build the server serves from node_modules (window.Chart).
// Every value from the API is put on the page with textContent, never as HTML: release reasons
// and failure causes are free text.

const COLOURS = ['blue', 'green'];
const COLOUR_CSS = { blue: '#2563eb', green: '#16a34a' };

// `?refresh=MS` polls faster (tests) or slower; bounded so a typo cannot hammer the endpoint.
const params = new URLSearchParams(location.search);
const refreshMs = Math.min(10_000, Math.max(200, Number(params.get('refresh')) || 1000));
// Metrics change once per CloudWatch period (5 s); polling them every second would be waste.
const metricsEveryMs = Math.max(refreshMs, 2000);

const $ = (selector, root = document) => root.querySelector(selector);

/** The release the approval panel shows: what Approve and Reject act on, never "whatever waits now". */
let shownApproval = null;

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await response.json().catch(() => ({ message: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
  return body;
}

async function postJson(path, payload) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({ message: `HTTP ${response.status}` }));
  return { ok: response.ok, status: response.status, body };
}

const percent = (rate) => (rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(rate === 1 ? 0 : 2)} %`);
const millis = (ms) => (ms === null || ms === undefined ? '–' : `${Math.round(ms)} ms`);
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fillTable(table, rows) {
  const body = $('tbody', table);
  body.replaceChildren(
    ...rows.map((cells) => {
      const tr = document.createElement('tr');
      tr.append(...cells);
      return tr;
    }),
  );
}

// --- Rendering ----------------------------------------------------------------------------------

function renderColours(view) {
  for (const colour of COLOURS) {
    const card = $(`[data-colour="${colour}"]`);
    const slot = view.colours?.[colour];
    const live = view.live ?? 'blue';
    $('[data-field="role"]', card).textContent = colour === live ? 'live' : 'idle';
    $('[data-field="role"]', card).className = `badge${colour === live ? ' live' : ''}`;
    $('[data-field="weight"]', card).textContent = view.weights ? String(view.weights[colour]) : '?';
    // The state document changes at promotion; until then the running release's lock says what the idle colour is getting.
    const incoming = view.running && view.running.idle === colour ? view.running.lock : null;
    $('[data-field="version"]', card).textContent = incoming
      ? `${incoming.version} · ${incoming.image} (this release)`
      : slot?.image
        ? `${slot.version ?? '?'} · ${slot.image}`
        : 'nothing deployed';
    $(`#bar-${colour}`).style.width = `${view.weights ? view.weights[colour] : 0}%`;
  }
  const weightsError = $('#weights-error');
  weightsError.hidden = !view.weightsError;
  weightsError.textContent = view.weightsError ?? '';
}

function renderRelease(view) {
  const section = $('#release');
  const summary = $('#release-summary');
  const running = view.running;
  section.dataset.state = running ? 'running' : 'idle';
  if (!running) {
    section.dataset.releaseId = '';
    summary.className = 'muted';
    summary.textContent = 'No release is running. Start one with the ecs-release command `npm run local` printed.';
    return;
  }
  const { lock } = running;
  section.dataset.releaseId = lock.releaseId;
  section.dataset.phase = running.phase;
  summary.className = '';
  const steps = running.schedule ? `step ${running.step} of ${running.schedule.length} (${running.schedule.join(' → ')} %)` : 'planning';
  const lines = [
    `${lock.releaseId}`,
    `${lock.version} (${lock.image}) → ${running.idle ?? 'idle colour'} · ${running.phase} · ${steps}`,
    `requested by ${lock.requestedBy ?? 'unknown'}${lock.reason ? ` · ${lock.reason}` : ''} · since ${clock(lock.acquiredAt)}`,
  ];
  if (running.error) lines.push(`rolling back: ${running.error.error}${running.error.cause ? `: ${running.error.cause}` : ''}`);
  if (lock.stale) lines.push(`STALE lock: execution ${lock.executionStatus}; check the route and the idle service, then clear the lock`);
  summary.replaceChildren(
    ...lines.map((line, i) => {
      const div = document.createElement('div');
      div.textContent = line;
      if (i === 0) div.style.fontWeight = '600';
      if (line.startsWith('rolling back') || line.startsWith('STALE')) div.className = 'status-unhealthy';
      return div;
    }),
  );
}

function renderApproval(view) {
  const section = $('#approval');
  const approval = view.approval;
  if (!approval) {
    section.hidden = true;
    section.dataset.gate = '';
    section.dataset.releaseId = '';
    shownApproval = null;
    return;
  }
  const changed = shownApproval?.releaseId !== approval.releaseId || shownApproval?.gate !== approval.gate;
  shownApproval = approval;
  section.hidden = false;
  section.dataset.gate = approval.gate;
  section.dataset.releaseId = approval.releaseId;
  const where = approval.gate === 'before-traffic' ? 'before any traffic moves to the new colour' : 'before promoting the new colour';
  $('#approval-text').textContent =
    `Release ${approval.releaseId} waits ${where} (gate ${approval.gate}) since ${clock(approval.requestedAt)}; ` +
    `it rolls back by itself at ${clock(approval.expiresAt)} if nobody answers.`;
  if (changed) {
    setApprovalMessage('', false);
    setButtons(true);
  }
}

function renderSteps(view) {
  const verdicts = view.running ? view.running.verdicts : (view.lastRelease?.verdicts ?? []);
  const of = view.running ? `· ${view.running.lock.releaseId}` : view.lastRelease ? `· last release ${view.lastRelease.id}` : '';
  $('#steps-of').textContent = of;
  fillTable(
    $('#steps'),
    verdicts.map((v) => [
      cell(String(v.stepIndex + 1) + (v.attempt > 0 ? ` (bake ${v.attempt + 1})` : '')),
      cell(`${v.weight} %`),
      cell(v.status, `status-${v.status}`),
      cell(String(v.evidence.requests)),
      cell(percent(v.evidence.successRate)),
      cell(millis(v.evidence.p99LatencyMs)),
      cell([...v.reasons, ...v.evidence.alarmsInAlarm.map((a) => `alarm ${a} in ALARM`)].join(' ') || '–'),
    ]),
  );
}

function renderHistory(view) {
  fillTable(
    $('#history'),
    view.history.map((r) => [
      cell(r.id),
      cell(r.version),
      cell(r.outcome, `outcome-${r.outcome}`),
      cell(`${r.fromColour} → ${r.toColour}`),
      cell(clock(r.finishedAt)),
      cell(r.failure ? `${r.failure.error}: ${r.failure.cause}` : ''),
    ]),
  );
  if (view.history.length === 0) fillTable($('#history'), [[cell('No releases yet.', 'muted')]]);
}

// --- Charts -------------------------------------------------------------------------------------

function lineChart(canvas, { unit, suggestedMin, max }) {
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: [
        // clip: a line at exactly 100 % would otherwise be cut in half by the chart's edge.
        ...COLOURS.map((colour) => ({ label: colour, data: [], borderColor: COLOUR_CSS[colour], backgroundColor: COLOUR_CSS[colour], pointRadius: 0, borderWidth: 2, spanGaps: false, clip: 4 })),
        { label: 'threshold', data: [], borderColor: '#dc2626', borderDash: [6, 4], pointRadius: 0, borderWidth: 1 },
      ],
    },
    options: {
      // Redrawn every poll: animation would only make the numbers lag.
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: { type: 'linear', ticks: { maxTicksLimit: 8, callback: (t) => new Date(t).toLocaleTimeString() } },
        y: { suggestedMin, max, ticks: { callback: (v) => `${v}${unit}` } },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  });
}

const charts = {
  success: lineChart($('#chart-success'), { unit: ' %', suggestedMin: 95, max: 100 }),
  latency: lineChart($('#chart-latency'), { unit: ' ms', suggestedMin: 0 }),
};

let thresholds = null;

function renderMetrics(metrics) {
  $('#source').textContent = `· ${metrics.source} metrics, ${metrics.periodSeconds} s periods`;
  const end = Date.parse(metrics.end);
  // From the first datapoint, not the window's start: a world started a minute ago has a minute to show.
  const first = Math.min(...COLOURS.flatMap((colour) => metrics.series[colour].map((p) => p.t)));
  const start = Number.isFinite(first) ? Math.max(Date.parse(metrics.start), first) : Date.parse(metrics.start);
  for (const [key, chart] of Object.entries(charts)) {
    COLOURS.forEach((colour, i) => {
      chart.data.datasets[i].data = metrics.series[colour].map((p) => ({
        x: p.t,
        y: key === 'success' ? (p.successRate === null ? null : p.successRate * 100) : p.p99LatencyMs,
      }));
    });
    const limit = thresholds ? (key === 'success' ? thresholds.minSuccessRate * 100 : thresholds.maxP99LatencyMs) : null;
    chart.data.datasets[2].data = limit === null ? [] : [{ x: start, y: limit }, { x: end, y: limit }];
    chart.options.scales.x.min = start;
    chart.options.scales.x.max = end;
    chart.update('none');
  }
}

// --- Approve and reject -------------------------------------------------------------------------

function setButtons(enabled) {
  $('#approve').disabled = !enabled;
  $('#reject').disabled = !enabled;
}

function setApprovalMessage(text, isError) {
  const message = $('#approval-message');
  message.textContent = text;
  message.className = isError ? 'error' : '';
}

async function answer(kind) {
  if (!shownApproval) return;
  const payload = { releaseId: shownApproval.releaseId };
  if (kind === 'reject') payload.reason = $('#reject-reason').value;
  setButtons(false);
  setApprovalMessage(kind === 'approve' ? 'Approving…' : 'Rejecting…', false);
  try {
    const { ok, body } = await postJson(`/api/${kind}`, payload);
    if (!ok) {
      // The server said what was wrong (no reason, gate closed, another release waiting): show it, let them try again.
      setApprovalMessage(body.message ?? 'The request was refused.', true);
      setButtons(true);
      return;
    }
    setApprovalMessage(
      kind === 'approve'
        ? `Approved ${body.releaseId} at ${body.gate} as ${body.approvedBy}; it continues.`
        : `Rejected ${body.releaseId} at ${body.gate} as ${body.rejectedBy}; it is rolling back.`,
      false,
    );
    $('#reject-reason').value = '';
    await refresh();
  } catch (error) {
    setApprovalMessage(`Could not reach the page server: ${error.message}`, true);
    setButtons(true);
  }
}

$('#approve').addEventListener('click', () => void answer('approve'));
$('#reject').addEventListener('click', () => void answer('reject'));

// --- Polling ------------------------------------------------------------------------------------

let lastMetricsAt = 0;

async function refresh() {
  try {
    const view = await getJson('/api/release');
    thresholds = view.thresholds;
    $('#service').textContent = view.service;
    $('#backend').textContent = view.traffic === 'alb' ? 'Application Load Balancer' : 'App Mesh';
    document.title = `${view.running ? `${view.running.phase} · ` : ''}${view.service} · ecs-release`;
    renderColours(view);
    renderRelease(view);
    renderApproval(view);
    renderSteps(view);
    renderHistory(view);
    if (Date.now() - lastMetricsAt >= metricsEveryMs) {
      lastMetricsAt = Date.now();
      renderMetrics(await getJson('/api/metrics'));
    }
    $('#updated').textContent = `updated ${clock(view.at)}`;
    $('#error').textContent = '';
  } catch (error) {
    $('#error').textContent = `Not updated: ${error.message}`;
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, refreshMs);
}

void loop();
