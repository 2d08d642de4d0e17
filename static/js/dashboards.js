// Analytics dashboards: draw the charts the page describes in JSON (#analytics-charts, written
// by json_script) with the vendored Chart.js, and submit the period filter when it changes.
// No inline scripts (CSP). Every chart is kept in window.parleyCharts by its name.
(() => {
  const PALETTE = ["#0b7a5a", "#2563eb", "#a15c00", "#b42318", "#7c3aed", "#0891b2",
    "#65a30d", "#db2777", "#475569"];
  window.parleyCharts = window.parleyCharts || {};

  function money(value) {
    return Number(value).toLocaleString(undefined, { maximumFractionDigits: 0 });
  }

  function config(spec) {
    const many = spec.labels.length > 40;
    const datasets = spec.datasets.map((d, i) => {
      const color = PALETTE[i % PALETTE.length];
      return Object.assign({
        borderColor: color,
        backgroundColor: spec.type === "line" ? color : color + "cc",
        borderWidth: spec.type === "line" ? 2 : 0,
        tension: 0.25,
        pointRadius: many ? 0 : 2,
        spanGaps: true,
      }, d);
    });
    // Counts and money are whole numbers: without `precision` an axis up to 1 reads
    // "0 0 0 1 1 1" (0.2, 0.4... rounded).
    const y = { beginAtZero: true, stacked: Boolean(spec.stacked), ticks: { precision: 0 } };
    if (spec.percent) {
      y.suggestedMax = 100;
      y.ticks.callback = (v) => v + "%";
    } else if (spec.money) {
      y.ticks.callback = money;
    }
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
        scales: {
          x: { stacked: Boolean(spec.stacked), ticks: { autoSkip: true, maxRotation: 0 } },
          y,
        },
      },
    };
  }

  function draw() {
    const source = document.getElementById("analytics-charts");
    if (!source || typeof window.Chart === "undefined") return;
    const specs = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const name = canvas.dataset.chart;
      const spec = specs[name];
      if (!spec) return;
      if (window.parleyCharts[name]) window.parleyCharts[name].destroy();
      delete window.parleyCharts[name];
      const box = canvas.parentElement;
      box.querySelector(".chart-empty")?.remove();
      canvas.hidden = Boolean(spec.empty);
      if (spec.empty) {
        const note = document.createElement("p");
        note.className = "chart-empty muted";
        note.dataset.testid = "chart-empty-" + name;
        note.textContent = "No data for this period.";
        box.appendChild(note);
        return;
      }
      window.parleyCharts[name] = new window.Chart(canvas, config(spec));
    });
  }

  function rangeFilter() {
    const form = document.querySelector("[data-range-form]");
    if (!form) return;
    const select = form.querySelector("[data-range-select]");
    const custom = form.querySelectorAll("[data-range-custom]");
    select.addEventListener("change", () => {
      const isCustom = select.value === "custom";
      custom.forEach((el) => el.classList.toggle("is-hidden", !isCustom));
      if (!isCustom) form.requestSubmit();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    draw();
    rangeFilter();
  });
})();
