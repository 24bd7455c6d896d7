/* global document, fetch, setTimeout, CSS */
// The open-alerts page: asks for the table again every few seconds and swaps it in, so new alerts appear
// without a reload. A new alert is announced to screen readers; focus on a link that is still there stays on it.
// When the session has ended (401) or the service cannot be reached, it stops and says so: a list that looks live
// but is not would mislead.
const container = document.getElementById('open-alerts');
const announcer = document.getElementById('alerts-announcer');
const stopped = document.getElementById('alerts-stopped');
const updated = document.getElementById('alerts-updated');

if (container) {
  const url = container.dataset.liveUrl;
  const seconds = Number(container.dataset.refreshSeconds) || 5;
  const ids = () => new Set([...container.querySelectorAll('[data-alert-id]')].map((a) => a.dataset.alertId));
  let known = ids();
  let failures = 0;

  const stop = () => {
    container.hidden = true;
    if (stopped) stopped.hidden = false;
    if (updated) updated.hidden = true;
  };

  const refresh = async () => {
    let response;
    try {
      response = await fetch(url, { credentials: 'same-origin', redirect: 'manual', headers: { accept: 'text/html' } });
    } catch {
      response = undefined;
    }
    if (!response || response.status !== 200) {
      failures += 1;
      // a session that ended stops at once; a network hiccup is forgiven twice
      if ((response && response.status === 401) || failures >= 3) return stop();
      return setTimeout(refresh, seconds * 1000);
    }
    failures = 0;
    const html = await response.text();
    const focused = document.activeElement;
    const focusedId = focused && container.contains(focused) ? focused.getAttribute('data-alert-id') : null;
    const template = document.createElement('template');
    template.innerHTML = html;
    container.replaceChildren(template.content);
    const now = ids();
    const added = [...now].filter((id) => !known.has(id));
    known = now;
    if (added.length > 0 && announcer) {
      announcer.textContent = added.length === 1 ? '1 new alert' : `${added.length} new alerts`;
    }
    if (focusedId) container.querySelector(`[data-alert-id="${CSS.escape(focusedId)}"]`)?.focus();
    if (updated) {
      const time = new Date().toLocaleTimeString('en-GB', { hour: 'numeric', minute: '2-digit', second: '2-digit' });
      updated.textContent = `List updated at ${time}.`;
    }
    setTimeout(refresh, seconds * 1000);
  };
  setTimeout(refresh, seconds * 1000);
}
