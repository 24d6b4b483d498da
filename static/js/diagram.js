/*
 * flowdesk diagram helper: show a BPMN diagram and highlight elements, with bpmn-js.
 *
 * Include the viewer bundle first (no bundler, no CDN):
 *   <link rel="stylesheet" href="{% static 'vendor/bpmn-js/assets/diagram-js.css' %}">
 *   <link rel="stylesheet" href="{% static 'vendor/bpmn-js/assets/bpmn-js.css' %}">
 *   <script src="{% static 'vendor/bpmn-js/bpmn-navigated-viewer.production.min.js' %}"></script>
 *   <script src="{% static 'js/diagram.js' %}"></script>
 *
 * API (one function):
 *   FlowdeskDiagram.show(container, xmlUrl, options) -> Promise<viewer | null>
 *     container  an element (or its id); gets the canvas, or a message when loading fails
 *     xmlUrl     a same-origin URL returning the BPMN XML (sent with the session cookie)
 *     options    { highlight: ["Task_Review", ...],   element ids to mark
 *                  className: "fd-current",           marker class (default fd-current)
 *                  markers: { "Task_A": "fd-done" } } extra id -> class markers
 *   Resolves with the bpmn-js viewer (or null when it failed; the message is shown).
 *
 * Declarative use: any element with data-bpmn-url (and optional data-highlight="a b",
 * data-marker-class) is filled when the page loads.
 * The bpmn.io watermark stays visible: the bpmn-js licence requires it.
 */
(function () {
  "use strict";

  function fail(container, text) {
    container.textContent = "";
    var p = document.createElement("p");
    p.className = "diagram-error";
    p.setAttribute("role", "status");
    p.textContent = text;
    container.appendChild(p);
  }

  function show(container, xmlUrl, options) {
    if (typeof container === "string") { container = document.getElementById(container); }
    options = options || {};
    if (!container) { return Promise.resolve(null); }
    var Viewer = window.BpmnJS;
    if (!Viewer) {
      fail(container, "The diagram viewer (bpmn-js) was not loaded.");
      return Promise.resolve(null);
    }
    return fetch(xmlUrl, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("the diagram could not be loaded (HTTP " + response.status + ")"); }
      return response.text();
    }).then(function (xml) {
      var viewer = new Viewer({ container: container });
      return viewer.importXML(xml).then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var mark = function (id, cls) { if (registry.get(id)) { canvas.addMarker(id, cls); } };
        (options.highlight || []).forEach(function (id) { mark(id, options.className || "fd-current"); });
        Object.keys(options.markers || {}).forEach(function (id) { mark(id, options.markers[id]); });
        canvas.zoom("fit-viewport", "auto");
        container.setAttribute("data-diagram-ready", "true");
        return viewer;
      });
    }).catch(function (error) {
      fail(container, "Diagram not shown: " + (error && error.message ? error.message : error));
      return null;
    });
  }

  function autoload() {
    var nodes = document.querySelectorAll("[data-bpmn-url]");
    Array.prototype.forEach.call(nodes, function (node) {
      var ids = (node.getAttribute("data-highlight") || "").split(/\s+/).filter(Boolean);
      show(node, node.getAttribute("data-bpmn-url"), {
        highlight: ids, className: node.getAttribute("data-marker-class") || undefined
      });
    });
  }

  window.FlowdeskDiagram = { show: show };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoload);
  } else {
    autoload();
  }
})();
