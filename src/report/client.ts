/**
 * The script that runs in report.html, as a string: it reads the chart specs embedded in the page
 * and draws each with uPlot. Plain ES2017, no imports; all data shaping and tick choices happened in
 * charts.ts. When done it sets <body data-charts-drawn="N">, which the browser test waits for.
 */
export const CLIENT_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var drawn = 0;

  // uPlot writes 0.3 beside 0.32; give every tick the decimals of the tick step instead
  function stepDecimals(step) {
    var text = String(Number(step.toFixed(10)));
    return text.indexOf('.') < 0 ? 0 : text.length - text.indexOf('.') - 1;
  }
  function evenValues(u, splits, axisIdx, space, step) {
    var decimals = stepDecimals(step);
    return splits.map(function (v) { return v == null ? '' : v.toFixed(decimals); });
  }

  function axis(label, ticks, integer) {
    var a = { label: label };
    if (ticks) {
      a.splits = ticks.splits;
      a.values = ticks.labels;
    } else {
      a.values = evenValues;
      if (integer) a.incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
    }
    return a;
  }

  // a dashed line at each highlighted x, labelled at the top of the plot (at the bottom when a ring
  // sits there), and a ring around each highlighted point
  function drawHighlights(u, highlights) {
    var ctx = u.ctx, px = uPlot.pxRatio, top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
    var pos = function (h) { return [u.valToPos(h.x, 'x', true), u.valToPos(h.y, 'y', true)]; };
    ctx.save();
    highlights.forEach(function (h, i) {
      var x = pos(h)[0];
      if (highlights.findIndex(function (o) { return o.x === h.x; }) !== i) return;
      var ringsNearTop = highlights.some(function (o) { return o.x === h.x && pos(o)[1] - top < 30 * px; });
      var labelTop = ringsNearTop ? bottom - 20 * px : top + 2 * px;
      ctx.strokeStyle = '#555';
      ctx.lineWidth = px;
      ctx.setLineDash([4 * px, 4 * px]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = 'bold ' + 12 * px + 'px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      var width = ctx.measureText(h.label).width;
      ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
      ctx.fillRect(x - width / 2 - 3 * px, labelTop, width + 6 * px, 18 * px);
      ctx.fillStyle = '#222';
      ctx.fillText(h.label, x, labelTop + 2 * px);
    });
    highlights.forEach(function (h) {
      var p = pos(h);
      ctx.strokeStyle = h.color;
      ctx.lineWidth = 2 * px;
      ctx.beginPath();
      ctx.arc(p[0], p[1], 7 * px, 0, 2 * Math.PI);
      ctx.stroke();
    });
    ctx.restore();
  }

  data.charts.forEach(function (spec) {
    var el = document.getElementById('chart-' + spec.id);
    var scales = { x: { time: false } };
    if (spec.xAxis) scales.x.range = spec.xAxis.range;
    if (spec.yAxis) scales.y = { range: spec.yAxis.range };
    var series = [{ label: spec.xLabel }];
    spec.series.forEach(function (s) {
      var entry = { label: s.label, stroke: s.color, width: 2, spanGaps: true, points: { show: !!s.points, size: 6, fill: s.color } };
      if (s.dash) entry.dash = s.dash;
      series.push(entry);
    });
    var opts = {
      width: 580,
      height: 320,
      title: spec.title,
      scales: scales,
      axes: [axis(spec.xLabel, spec.xAxis, spec.integerX), axis(spec.yLabel, spec.yAxis, false)],
      series: series,
      // series names only: a live legend shows "name: --" until the cursor is on a point
      legend: { live: false },
    };
    if (spec.highlights && spec.highlights.length > 0) {
      opts.hooks = { draw: [function (u) { drawHighlights(u, spec.highlights); }] };
    }
    new uPlot(opts, [spec.x].concat(spec.series.map(function (s) { return s.values; })), el);
    drawn++;
  });
  document.body.setAttribute('data-charts-drawn', String(drawn));
})();
`
