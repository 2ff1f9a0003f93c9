// Draws every chart on the page from the JSON block next to its canvas, and again after
// htmx swaps in fresh fragments. No inline scripts: the pages' CSP allows only this file.
(function () {
  "use strict";
  const palette = ["#1f6feb", "#2da44e", "#d9822b", "#8250df", "#c0362c", "#3b9ac4", "#7a8699"];

  function draw(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const source = document.getElementById(canvas.dataset.chart);
      if (!source) return;
      const spec = JSON.parse(source.textContent);
      spec.data.datasets.forEach(function (set, i) {
        set.backgroundColor = set.backgroundColor || palette[i % palette.length];
        set.borderColor = set.borderColor || palette[i % palette.length];
      });
      spec.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: spec.data.datasets.length > 1 } } }, spec.options || {});
      const existing = Chart.getChart(canvas);
      if (existing) existing.destroy();
      new Chart(canvas, spec);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
})();
