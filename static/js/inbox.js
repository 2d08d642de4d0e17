// Inbox behaviour: keep the thread scrolled to the newest message while the agent is at the
// bottom, and ask before destructive submits (data-confirm). No inline scripts (CSP).
(() => {
  let stick = true;
  const scroller = () => document.querySelector("[data-thread-scroll]");
  const toBottom = () => {
    const box = scroller();
    if (box && stick) box.scrollTop = box.scrollHeight;
  };
  document.addEventListener("DOMContentLoaded", () => {
    const box = scroller();
    if (!box) return;
    toBottom();
    box.addEventListener("scroll", () => {
      stick = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
    });
  });
  document.addEventListener("htmx:afterSettle", toBottom);
  document.addEventListener("submit", (event) => {
    const question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
