// The campaign builder: each variable shows the control its source needs (a contact field,
// an attribute or text) and, for contact values, the fallback. Without JavaScript every
// control shows and the form still works. No inline scripts (CSP).
document.addEventListener("DOMContentLoaded", () => {
  const sync = (select) => {
    const row = select.closest("[data-mapping-row]");
    if (!row) return;
    row.querySelectorAll("[data-mapping-show]").forEach((label) => {
      const shown = label.dataset.mappingShow.split(" ").includes(select.value);
      label.hidden = !shown;
    });
  };
  document.querySelectorAll("select[data-mapping-source]").forEach((select) => {
    sync(select);
    select.addEventListener("change", () => sync(select));
  });
});
