/**
 * The script that runs in report.html, as a string: it reads the chart specs embedded in the page
 * and draws each with uPlot. Plain ES2017, no imports; all data shaping happened in charts.ts.
 * When done it sets <body data-charts-drawn="N">, which the browser test waits for.
 */
export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var drawn = 0;
  data.charts.forEach(function (spec) {
    var el = document.getElementById('chart-' + spec.id);
    var xAxis = { label: spec.xLabel };
    var xScale = { time: false };
    if (spec.integerX) xAxis.incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
    if (spec.xTicks) {
      xAxis.values = function (u, splits) {
        return splits.map(function (v) { return Number.isInteger(v) && spec.xTicks[v] !== undefined ? spec.xTicks[v] : ''; });
      };
      xAxis.space = 80;
      // half a category of margin on each side, so the first and last labels are not cut off
      xScale.range = [-0.5, spec.xTicks.length - 0.5];
    }
    var series = [{ label: spec.xLabel, value: spec.xTicks ? function (u, v) { return v == null ? '' : spec.xTicks[v]; } : undefined }];
    spec.series.forEach(function (s) {
      var entry = { label: s.label, stroke: s.color, width: 2, spanGaps: true, points: { show: !!s.points, size: 6, fill: s.color } };
      if (s.dash) entry.dash = s.dash;
      series.push(entry);
    });
    if (!series[0].value) delete series[0].value;
    var opts = {
      width: 580,
      height: 320,
      title: spec.title,
      scales: { x: xScale },
      axes: [xAxis, { label: spec.yLabel }],
      series: series,
    };
    new uPlot(opts, [spec.x].concat(spec.series.map(function (s) { return s.values; })), el);
    drawn++;
  });
  document.body.setAttribute('data-charts-drawn', String(drawn));
})();
`
