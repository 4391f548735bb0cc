/* The quality dashboard's charts (templates/quality/dashboard*.html), drawn with the vendored Chart.js.
 *
 * Each <figure class="ff-chart" data-chart="series|funnel|groups" data-source="ID"> reads its numbers from
 * the <script type="application/json" id="ID"> that Django's json_script wrote (quality.reports: shown values
 * only, suppressed cells are null and not drawn). No inline script, no eval, no style attributes: the strict
 * Content-Security-Policy holds (Chart.js sizes its canvas through the CSSOM, which the policy allows).
 *
 * Without JavaScript the page shows the tables and no charts. Here, once a chart is drawn, its table is
 * kept for screen readers (visually hidden) and a button shows it again for everyone.
 */
(function () {
  "use strict";

  var BLUE = "#1f4e79";
  var GREEN = "#2e8b57";
  var RED = "#b3261e";
  var GREY = "#6b6b6b";
  var LIGHT_GREY = "#a6a6a6";

  function language() {
    return document.documentElement.lang || "da";
  }

  function number(value) {
    return new Intl.NumberFormat(language(), { maximumFractionDigits: 1 }).format(value);
  }

  function withUnit(value, unit) {
    return number(value) + (unit ? " " + unit : "");
  }

  function valueAxis(data, title) {
    var axis = {
      title: { display: true, text: title },
      ticks: { callback: function (value) { return withUnit(value, data.unit); } },
      grid: { color: "#e6e6e6" }
    };
    if (data.measure === "proportion") {
      axis.min = 0;
      axis.max = 100;
    } else {
      axis.suggestedMin = 0;
      axis.suggestedMax = 100;
    }
    return axis;
  }

  function common(data) {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      locale: language(),
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 16, usePointStyle: true } }
      }
    };
  }

  function seriesChart(canvas, data) {
    var series = data.series;
    var options = common(data);
    options.scales = { y: valueAxis(data, data.words.result) };
    options.plugins.tooltip = {
      callbacks: {
        label: function (item) {
          return item.dataset.label + ": " + withUnit(item.parsed.y, data.unit);
        }
      }
    };
    return new window.Chart(canvas, {
      type: "line",
      data: {
        labels: series.labels,
        datasets: [
          {
            label: data.words.result,
            data: series.values,
            borderColor: BLUE,
            backgroundColor: BLUE,
            pointRadius: 4,
            borderWidth: 2,
            spanGaps: false
          },
          {
            label: data.words.standard,
            data: series.labels.map(function () { return data.standard; }),
            borderColor: RED,
            backgroundColor: RED,
            borderDash: [6, 4],
            borderWidth: 2,
            pointRadius: 0,
            pointStyle: "line"
          }
        ]
      },
      options: options
    });
  }

  function limitLine(label, ns, values, colour, dash) {
    return {
      type: "line",
      label: label,
      data: ns.map(function (n, i) { return { x: n, y: values[i] }; }),
      borderColor: colour,
      backgroundColor: colour,
      borderDash: dash,
      borderWidth: 1.5,
      pointRadius: 0,
      pointStyle: "line",
      tension: 0.2
    };
  }

  function funnelChart(canvas, data) {
    var funnel = data.funnel;
    var datasets = [
      {
        type: "scatter",
        label: data.words.organisation,
        data: funnel.points,
        borderColor: BLUE,
        backgroundColor: "rgba(31, 78, 121, 0.75)",
        pointRadius: 5,
        pointHoverRadius: 7
      }
    ];
    var limits = funnel.limits;
    if (limits) {
      var centre = limits.n.map(function () { return limits.centre; });
      datasets.push(limitLine(data.words.overall, limits.n, centre, GREEN, []));
      datasets.push(limitLine(data.words.limit95, limits.n, limits.low95, GREY, [5, 4]));
      datasets.push(limitLine(data.words.limit95, limits.n, limits.high95, GREY, [5, 4]));
      datasets.push(limitLine(data.words.limit998, limits.n, limits.low998, LIGHT_GREY, [2, 3]));
      datasets.push(limitLine(data.words.limit998, limits.n, limits.high998, LIGHT_GREY, [2, 3]));
    }
    var options = common(data);
    options.scales = {
      x: {
        type: "linear",
        min: 0,
        title: { display: true, text: data.words.denominator },
        grid: { color: "#e6e6e6" }
      },
      y: valueAxis(data, data.words.result)
    };
    options.plugins.legend.labels.filter = function (item, chart) {
      // The upper and lower limit share a name: one entry in the legend.
      var names = chart.datasets.map(function (dataset) { return dataset.label; });
      return names.indexOf(item.text) === item.datasetIndex;
    };
    options.plugins.tooltip = {
      filter: function (item) { return item.datasetIndex === 0; },
      callbacks: {
        label: function (item) {
          var point = item.raw;
          return point.label + ": " + withUnit(point.y, data.unit) + " (n = " + number(point.x) + ")";
        }
      }
    };
    return new window.Chart(canvas, { type: "scatter", data: { datasets: datasets }, options: options });
  }

  function groupsChart(canvas, data) {
    var groups = data.groups;
    var options = common(data);
    options.indexAxis = "y";
    options.scales = { x: valueAxis(data, data.words.result), y: { grid: { display: false } } };
    options.plugins.tooltip = {
      callbacks: {
        label: function (item) {
          return item.dataset.label + ": " + withUnit(item.parsed.x, data.unit);
        }
      }
    };
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: groups.labels,
        datasets: [
          {
            type: "bar",
            label: data.words.result,
            data: groups.values,
            backgroundColor: BLUE,
            maxBarThickness: 28
          },
          {
            type: "line",
            label: data.words.standard,
            data: groups.labels.map(function () { return data.standard; }),
            borderColor: RED,
            backgroundColor: RED,
            borderDash: [6, 4],
            borderWidth: 2,
            pointRadius: 0,
            pointStyle: "line"
          }
        ]
      },
      options: options
    });
  }

  var DRAW = { series: seriesChart, funnel: funnelChart, groups: groupsChart };

  function tableToggle(figure) {
    var table = figure.querySelector(".table--responsive-scroll");
    if (!table) {
      return;
    }
    table.classList.add("ff-visually-hidden");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-tertiary ff-table-toggle";
    button.textContent = figure.dataset.showTable;
    // Screen readers read the table whether it is shown or not: the button is for those who see the chart.
    button.addEventListener("click", function () {
      var hidden = table.classList.toggle("ff-visually-hidden");
      button.textContent = hidden ? figure.dataset.showTable : figure.dataset.hideTable;
    });
    table.parentNode.insertBefore(button, table);
  }

  function draw(figure) {
    var source = document.getElementById(figure.dataset.source);
    var kind = DRAW[figure.dataset.chart];
    var holder = figure.querySelector(".ff-chart-canvas");
    if (!source || !kind || !holder) {
      return;
    }
    var data = JSON.parse(source.textContent);
    holder.hidden = false;
    kind(holder.querySelector("canvas"), data);
    figure.classList.add("ff-chart-drawn");
    tableToggle(figure);
  }

  function start() {
    if (!window.Chart) {
      return; // the library did not load: the tables stay
    }
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.color = "#1a1a1a";
    document.querySelectorAll("figure.ff-chart[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
