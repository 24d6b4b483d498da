// Admin diagrams: load a model into the bpmn-js viewer, then mark what the page is about
// (token counts as a heatmap, an instance's active elements, open incidents). Data comes
// from <script type="application/json"> blocks named by the figure's data-* attributes.
(function () {
  "use strict";

  function readJson(id) {
    if (!id) { return null; }
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function badge(kind, count, title) {
    var span = document.createElement("span");
    span.className = "fd-badge fd-badge-" + kind;
    span.textContent = String(count);
    span.title = title;
    return span;
  }

  function heatLevel(count, max) {
    if (count <= 0 || max <= 0) { return 0; }
    return Math.max(1, Math.ceil((count / max) * 4));
  }

  function decorate(viewer, figure) {
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    var heatmap = readJson(figure.dataset.heatmapId) || {};
    var active = readJson(figure.dataset.activeId) || [];
    var incidents = readJson(figure.dataset.incidentsId) || [];
    var maxWaiting = 0;
    Object.keys(heatmap).forEach(function (id) {
      maxWaiting = Math.max(maxWaiting, heatmap[id].waiting || 0);
    });
    Object.keys(heatmap).forEach(function (id) {
      if (!registry.get(id)) { return; }
      var counts = heatmap[id];
      var level = heatLevel(counts.waiting || 0, maxWaiting);
      if (level) {
        canvas.addMarker(id, "fd-heat-" + level);
        overlays.add(id, "fd-count", { position: { top: -10, left: -10 },
          html: badge("waiting", counts.waiting, counts.waiting + " waiting now") });
      }
      if (counts.passed) {
        overlays.add(id, "fd-count", { position: { top: -10, right: 10 },
          html: badge("passed", counts.passed, counts.passed + " passed") });
      }
      if (counts.incidents) {
        canvas.addMarker(id, "fd-incident");
        overlays.add(id, "fd-count", { position: { bottom: 10, right: 10 },
          html: badge("incident", counts.incidents, counts.incidents + " open incidents") });
      }
    });
    var tokens = {};
    active.forEach(function (id) { tokens[id] = (tokens[id] || 0) + 1; });
    Object.keys(tokens).forEach(function (id) {
      if (!registry.get(id)) { return; }
      canvas.addMarker(id, "fd-active");
      overlays.add(id, "fd-count", { position: { top: -10, left: -10 },
        html: badge("waiting", tokens[id], tokens[id] + " token(s) here") });
    });
    incidents.forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, "fd-incident"); }
    });
    var elementUrl = figure.dataset.elementUrl;
    if (elementUrl) {
      viewer.get("eventBus").on("element.click", function (event) {
        var element = event.element;
        if (!element || !element.businessObject || element.type === "bpmn:Process" ||
            element.type === "label" || element.waypoints) { return; }
        window.location.href = elementUrl.replace("ELEMENT", encodeURIComponent(element.id));
      });
      figure.classList.add("fd-clickable");
    }
  }

  function load(figure) {
    var status = figure.querySelector(".fd-diagram-status");
    var container = figure.querySelector(".fd-canvas");
    if (typeof window.BpmnJS !== "function") {
      figure.dataset.state = "error";
      status.textContent = "The diagram viewer did not load.";
      return;
    }
    var viewer = new window.BpmnJS({ container: container });
    var xml = figure.dataset.xmlId
      ? Promise.resolve(readJson(figure.dataset.xmlId))
      : fetch(figure.dataset.xmlUrl, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) { throw new Error("the model could not be loaded (" + response.status + ")"); }
        return response.text();
      });
    xml.then(function (text) { return viewer.importXML(text); })
      .then(function (result) {
        canvas_fit(viewer);
        decorate(viewer, figure);
        var warnings = (result && result.warnings) || [];
        status.textContent = warnings.length ? warnings.length + " diagram warning(s)" : "";
        figure.dataset.state = "ready";
      })
      .catch(function (error) {
        figure.dataset.state = "error";
        status.textContent = "The diagram cannot be shown: " + (error && error.message ? error.message : error);
      });
  }

  function canvas_fit(viewer) {
    var canvas = viewer.get("canvas");
    canvas.zoom("fit-viewport", "auto");
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("figure.fd-diagram"), load);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
