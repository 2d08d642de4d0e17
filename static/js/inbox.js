// Inbox behaviour. No inline scripts (CSP), no HTML built from data (textContent only).
// - keep the thread scrolled to the newest message while the agent is at the bottom;
// - ask before destructive submits (data-confirm), and submit a form once (data-once);
// - never leave a live link whose scheme is not http(s), mailto or tel in the page, including
//   what htmx swaps in (the server renders the same rule; this is the second lock);
// - keep a template's preview up to date as its values are typed;
// - "/" in the reply box offers the canned replies (a keyboard-driven list box).
(() => {
  // --- Thread scrolling ------------------------------------------------------------------------
  let stick = true;
  const scroller = () => document.querySelector("[data-thread-scroll]");
  const toBottom = () => {
    const box = scroller();
    if (box && stick) box.scrollTop = box.scrollHeight;
  };

  // --- Links ----------------------------------------------------------------------------------
  const SAFE = /^(https?:|mailto:|tel:)$/i;
  const disarmLinks = (root) => {
    (root || document).querySelectorAll("a[href]").forEach((link) => {
      let protocol = "";
      try {
        protocol = new URL(link.getAttribute("href"), window.location.href).protocol;
      } catch (error) {
        protocol = "invalid:";
      }
      if (SAFE.test(protocol)) return;
      const text = document.createElement("span");
      text.className = "unsafe-link";
      text.textContent = link.textContent;
      link.replaceWith(text);
    });
  };

  // --- Template previews -----------------------------------------------------------------------
  const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
  const previewUpdate = (form) => {
    const holder = form.closest("details, section, div");
    const preview = holder && holder.querySelector("[data-template-preview]");
    if (!preview) return;
    const values = { header: {}, body: {} };
    form.querySelectorAll("input[data-part]").forEach((input) => {
      const part = values[input.dataset.part];
      if (part && input.value.trim()) part[input.dataset.param] = input.value.trim();
    });
    const fill = (text, part) =>
      (text || "").replace(PLACEHOLDER, (whole, name) => (part && part[name]) || whole);
    preview.textContent = [
      fill(preview.dataset.header, values.header),
      fill(preview.dataset.body, values.body),
      preview.dataset.footer || "",
    ]
      .filter((line) => line)
      .join("\n");
  };

  // --- Canned replies --------------------------------------------------------------------------
  const cannedSetup = () => {
    const input = document.querySelector("[data-canned-input]");
    const menu = document.getElementById("canned-menu");
    const source = document.getElementById("canned-replies");
    if (!input || !menu || !source) return;
    let replies = [];
    try {
      replies = JSON.parse(source.textContent) || [];
    } catch (error) {
      return;
    }
    let shown = [];
    let active = -1;
    let token = null; // {start, end} of the "/query" being typed

    const close = () => {
      menu.hidden = true;
      menu.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      shown = [];
      active = -1;
      token = null;
    };
    const highlight = (index) => {
      active = index;
      menu.querySelectorAll("[role=option]").forEach((option, i) => {
        option.setAttribute("aria-selected", String(i === index));
        if (i === index) {
          input.setAttribute("aria-activedescendant", option.id);
          option.scrollIntoView({ block: "nearest" });
        }
      });
    };
    const insert = (reply) => {
      if (!token) return;
      const text = input.value;
      input.value = text.slice(0, token.start) + reply.body + text.slice(token.end);
      const caret = token.start + reply.body.length;
      input.setSelectionRange(caret, caret);
      close();
      input.focus();
      input.dispatchEvent(new Event("input", { bubbles: true }));
    };
    const open = (query) => {
      const q = query.toLowerCase();
      const starts = replies.filter((r) => r.shortcut.startsWith(q));
      const others = replies.filter(
        (r) =>
          !r.shortcut.startsWith(q) &&
          (r.shortcut.includes(q) || r.title.toLowerCase().includes(q)),
      );
      shown = starts.concat(others).slice(0, 8);
      menu.replaceChildren();
      if (!shown.length) {
        const empty = document.createElement("li");
        empty.className = "muted";
        empty.setAttribute("role", "option");
        empty.setAttribute("aria-disabled", "true");
        empty.textContent = `No canned reply matches /${query}`;
        menu.append(empty);
      }
      shown.forEach((reply, i) => {
        const option = document.createElement("li");
        option.id = `canned-opt-${i}`;
        option.setAttribute("role", "option");
        option.dataset.testid = "canned-option";
        const shortcut = document.createElement("strong");
        shortcut.textContent = `/${reply.shortcut}`;
        const title = document.createElement("span");
        title.textContent = ` ${reply.title}`;
        const body = document.createElement("span");
        body.className = "muted canned-body";
        body.textContent = reply.body.length > 90 ? `${reply.body.slice(0, 90)}…` : reply.body;
        option.append(shortcut, title, body);
        option.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep the focus in the text box
          insert(reply);
        });
        menu.append(option);
      });
      menu.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(shown.length ? 0 : -1);
    };
    const check = () => {
      const caret = input.selectionStart;
      const before = input.value.slice(0, caret);
      const match = /(^|\s)\/([a-z0-9_-]*)$/i.exec(before);
      if (!match) {
        close();
        return;
      }
      token = { start: caret - match[2].length - 1, end: caret };
      open(match[2]);
    };
    input.addEventListener("input", check);
    input.addEventListener("click", check);
    input.addEventListener("blur", () => window.setTimeout(close, 150));
    input.addEventListener("keydown", (event) => {
      if (menu.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!shown.length) return;
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        highlight((active + step + shown.length) % shown.length);
      } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
        event.preventDefault();
        insert(shown[active]);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    disarmLinks(document);
    cannedSetup();
    document.querySelectorAll("form[data-template-form]").forEach(previewUpdate);
    const box = scroller();
    if (!box) return;
    toBottom();
    box.addEventListener("scroll", () => {
      stick = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
    });
  });
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return; // restored from the back-forward cache: usable again
    document.querySelectorAll("form[data-once]").forEach((form) => {
      delete form.dataset.sent;
      form.querySelectorAll("button[type=submit]").forEach((b) => {
        b.disabled = false;
      });
    });
  });
  document.addEventListener("htmx:afterSwap", (event) => disarmLinks(event.target));
  document.addEventListener("htmx:afterSettle", toBottom);
  document.addEventListener("input", (event) => {
    const form = event.target.closest && event.target.closest("form[data-template-form]");
    if (form) previewUpdate(form);
  });
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-once")) {
      if (form.dataset.sent) {
        event.preventDefault(); // a second click while the first is on its way
        return;
      }
      form.dataset.sent = "1";
      // After this event, so the clicked button's name and value still go with the form.
      window.setTimeout(() => {
        form.querySelectorAll("button[type=submit]").forEach((b) => {
          b.disabled = true;
        });
      }, 0);
    }
  });
})();
