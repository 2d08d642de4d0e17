/* The template builder's live preview (README "Template builder").
 *
 * Reads the builder's fields as they are typed and draws the template as WhatsApp shows it,
 * with the examples in place of the variables; lists the variables found and counts the
 * characters against Meta's limits. Text is written with textContent only. The rules are
 * checked on the server when the form is saved: this is a preview, not a validator. */
(function () {
  "use strict";
  var form = document.querySelector("[data-template-builder]");
  if (!form) { return; }
  var PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
  var OPT_OUT_LABEL = form.getAttribute("data-opt-out-label") || "Stop promotions";

  function field(name) { return form.querySelector("[name='" + name + "']"); }
  function value(name) { var el = field(name); return el ? el.value : ""; }
  function names(text) {
    var found = [], match;
    PLACEHOLDER.lastIndex = 0;
    while ((match = PLACEHOLDER.exec(text)) !== null) {
      if (found.indexOf(match[1]) === -1) { found.push(match[1]); }
    }
    return found;
  }
  function fill(text, values) {
    return text.replace(PLACEHOLDER, function (all, name) {
      return values[name] ? values[name] : "[" + name + "]";
    });
  }
  function show(el, text) { el.textContent = text; el.hidden = !text; }
  function toggleField(name, visible) {
    var wrapper = form.querySelector("[data-field='" + name + "']");
    if (wrapper) { wrapper.hidden = !visible; }
  }

  var media = form.querySelector("[data-preview-media]");
  var header = form.querySelector("[data-preview-header]");
  var body = form.querySelector("[data-preview-body]");
  var footer = form.querySelector("[data-preview-footer]");
  var buttons = form.querySelector("[data-preview-buttons]");
  var variables = form.querySelector("[data-preview-variables]");
  var counts = form.querySelector("[data-preview-counts]");

  function render() {
    var format = value("header_format");
    toggleField("header_text", format === "TEXT");
    toggleField("header_example", format === "TEXT" && names(value("header_text")).length > 0);
    var mediaHeader = ["IMAGE", "VIDEO", "DOCUMENT"].indexOf(format) !== -1;
    toggleField("header_asset", mediaHeader);
    toggleField("header_handle", mediaHeader);
    var library = field("header_asset");
    var fileName = "";
    if (library) {
      // Only the files the chosen header can show: the optgroup of its format.
      Array.prototype.forEach.call(library.querySelectorAll("optgroup"), function (group) {
        var fits = group.label === { IMAGE: "Images", VIDEO: "Videos", DOCUMENT: "Documents" }[format];
        group.hidden = !fits;
        group.disabled = !fits;
      });
      var chosen = library.options[library.selectedIndex];
      if (chosen && chosen.value && !chosen.parentNode.disabled) { fileName = chosen.textContent; }
    }

    var headerNames = names(value("header_text"));
    var headerValues = {};
    if (headerNames.length) { headerValues[headerNames[0]] = value("header_example").trim(); }
    show(header, format === "TEXT" ? fill(value("header_text"), headerValues) : "");
    var mediaText = "";
    if (format && format !== "TEXT") {
      mediaText = format.charAt(0) + format.slice(1).toLowerCase();
      if (mediaHeader && fileName) { mediaText += " · " + fileName; }
    }
    show(media, mediaText);

    var bodyText = value("body");
    var bodyNames = names(bodyText);
    var lines = value("body_examples").split("\n").map(function (l) { return l.trim(); })
      .filter(function (l) { return l; });
    var bodyValues = {};
    bodyNames.forEach(function (name, i) { bodyValues[name] = lines[i] || ""; });
    show(body, fill(bodyText, bodyValues) || " ");
    show(footer, value("footer"));

    while (buttons.firstChild) { buttons.removeChild(buttons.firstChild); }
    form.querySelectorAll("[data-button-row]").forEach(function (row) {
      var type = row.querySelector("select").value;
      var inputs = row.querySelectorAll("input");
      var label = inputs[0] ? inputs[0].value.trim() : "";
      if (!type) { return; }
      if (type === "MARKETING_OPT_OUT" && !label) { label = OPT_OUT_LABEL; }
      if (type === "COPY_CODE") { label = "Copy offer code"; }
      var item = document.createElement("li");
      item.className = "wa-button" + (type === "URL" ? " wa-url" : "");
      item.textContent = label || "(no label)";
      buttons.appendChild(item);
    });
    buttons.hidden = !buttons.firstChild;

    variables.textContent = bodyNames.length
      ? "Body variables, in order: " + bodyNames.map(function (n, i) {
        return "{{" + n + "}} = " + (lines[i] || "(no example yet)");
      }).join(", ")
      : "No variables in the body.";
    counts.textContent = "Body " + bodyText.length + "/1024 · header " +
      value("header_text").length + "/60 · footer " + value("footer").length + "/60";
  }

  form.addEventListener("input", render);
  form.addEventListener("change", render);
  render();
}());
