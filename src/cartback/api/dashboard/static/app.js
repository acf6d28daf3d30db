// The overview's chart: recovered revenue (bars) and spend (line) per day, drawn with uPlot
// from the JSON the page carries. Every figure is also in the page's table.
(function () {
  "use strict";
  var holder = document.getElementById("daily-chart");
  var source = document.getElementById("daily-data");
  if (!holder || !source || typeof uPlot === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var money = data.currency
    ? new Intl.NumberFormat(data.locale, { style: "currency", currency: data.currency })
    : new Intl.NumberFormat(data.locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var compact = new Intl.NumberFormat(data.locale, { notation: "compact", maximumFractionDigits: 1 });
  var xs = data.labels.map(function (_, i) { return i; });

  function label(i) {
    return data.labels[Math.round(i)] || "";
  }

  function options(width) {
    return {
      width: width,
      height: Math.max(180, Math.min(300, Math.round(width * 0.45))),
      scales: { x: { time: false, range: [-0.6, xs.length - 0.4] } },
      legend: { live: false },
      cursor: { points: { size: 6 } },
      axes: [
        {
          space: 48,
          // Whole days, counted back from the last one, so that today always has its label.
          splits: function (u, axis, min, max, incr) {
            var step = Math.max(1, Math.ceil(incr));
            var out = [];
            for (var i = xs.length - 1; i >= 0; i -= step) {
              out.unshift(i);
            }
            return out;
          },
          values: function (u, splits) { return splits.map(label); },
          grid: { show: false },
        },
        {
          size: 56,
          values: function (u, splits) { return splits.map(function (v) { return compact.format(v); }); },
          grid: { stroke: "#e6e8eb" },
        },
      ],
      series: [
        { label: "Day" },
        {
          label: "Recovered revenue",
          stroke: "#0f766e",
          fill: "rgba(15, 118, 110, 0.55)",
          paths: uPlot.paths.bars({ size: [0.6, 36] }),
          points: { show: false },
          value: function (u, v) { return v == null ? "" : money.format(v); },
        },
        {
          label: "Spend",
          stroke: "#c2410c",
          width: 2,
          points: { show: true, size: 4 },
          value: function (u, v) { return v == null ? "" : money.format(v); },
        },
      ],
    };
  }

  var plot = new uPlot(options(holder.clientWidth), [xs, data.revenue, data.spend], holder);
  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) {
      return;
    }
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      plot.setSize({ width: holder.clientWidth, height: options(holder.clientWidth).height });
    });
  });
})();
