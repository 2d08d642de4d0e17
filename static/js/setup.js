// Setup pages (auto-reply rules, "try a message"): show the inputs the chosen trigger, action
// or message kind needs, hide the others (hidden inputs keep their values, so switching back
// loses nothing), and ask before destructive submits (data-confirm). No inline scripts (CSP).
(() => {
  const wants = (element, attribute, value) =>
    (element.getAttribute(attribute) || "").split(" ").includes(value);

  const sync = (root) => {
    const action = root.querySelector("[name=action]");
    const trigger = root.querySelector("[name=trigger]");
    const kind = root.querySelector("[name=kind]");
    root.querySelectorAll("[data-show-if-action]").forEach((el) => {
      el.hidden = !!action && !wants(el, "data-show-if-action", action.value);
    });
    root.querySelectorAll("[data-show-if-trigger]").forEach((el) => {
      el.hidden = !!trigger && !wants(el, "data-show-if-trigger", trigger.value);
    });
    root.querySelectorAll("[data-show-unless-trigger]").forEach((el) => {
      el.hidden = !!trigger && wants(el, "data-show-unless-trigger", trigger.value);
    });
    root.querySelectorAll("[data-show-if-kind]").forEach((el) => {
      el.hidden = !!kind && !wants(el, "data-show-if-kind", kind.value);
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-rule-form], [data-try-form]").forEach((root) => {
      sync(root);
      root.addEventListener("change", () => sync(root));
    });
  });
  document.addEventListener("submit", (event) => {
    const question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
