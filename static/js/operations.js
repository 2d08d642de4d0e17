// Operations pages: keep the live event list bounded (new events are prepended by htmx).
// No inline scripts (CSP): loaded from static/ by the pages that need it.
(() => {
  const MAX_EVENTS = 500;
  document.addEventListener("htmx:oobAfterSwap", () => {
    const list = document.getElementById("event-list");
    if (!list) return;
    const empty = document.getElementById("events-empty");
    if (empty && list.children.length) empty.remove();
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  });
})();
