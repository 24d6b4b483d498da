/*
 * flowdesk live inbox (loaded on every page of a signed-in user by base.html).
 *
 * - Opens the WebSocket /ws/tasks/ (tasks_portal/consumers.py); the server pushes the
 *   events of tasks this user can see: {event, task: {id, name, ...}, actor}.
 * - Re-dispatches each as a "flowdesk:task" DOM event on document (task.js listens).
 * - Keeps the unread badge in the navigation up to date.
 * - On the inbox page ([data-live-inbox]): reloads the list (server-rendered fragment,
 *   same filters) so a task claimed by a colleague leaves "My groups' tasks" without a
 *   reload, keeps ticked boxes ticked, and says what happened in a polite live region.
 * Without JavaScript every page still works; it just does not update by itself.
 */
(function () {
  "use strict";

  var badge = document.querySelector("[data-unread-badge]");
  var badgeLink = document.querySelector("[data-unread-url]");
  var inbox = document.querySelector("[data-live-inbox]");

  function refreshBadge() {
    if (!badge || !badgeLink) { return; }
    fetch(badgeLink.getAttribute("data-unread-url"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        badge.textContent = data.unread > 99 ? "99+" : String(data.unread);
        badge.hidden = data.unread === 0;
        badge.setAttribute("aria-label", data.unread + " unread notifications");
      })
      .catch(function () { /* the badge is a convenience */ });
  }

  function say(text) {
    var region = document.getElementById("live-status");
    if (region) { region.textContent = text; }
  }

  var DONE = { claimed: "claimed", unclaimed: "handed back", completed: "completed",
               cancelled: "cancelled", created: "created", offered: "offered to more people",
               assigned: "reassigned", delegated: "delegated", resolved: "resolved",
               escalated: "escalated", commented: "commented" };

  function describe(message) {
    var task = message.task || {};
    var label = task.name + (task.business_key ? " (" + task.business_key + ")" : "");
    var who = message.actor ? " by " + message.actor : "";
    return "Task " + label + " was " + (DONE[message.event] || message.event) + who + ".";
  }

  var reloading = null;
  function reloadList() {
    if (!inbox) { return; }
    if (reloading) { clearTimeout(reloading); }
    // Several events in a burst (a bulk claim) cause one reload.
    reloading = setTimeout(function () {
      reloading = null;
      var url = inbox.getAttribute("data-fragment-url");
      url += (url.indexOf("?") >= 0 ? "&" : "?") + "fragment=1";
      var list = document.getElementById("inbox-list");
      var ticked = Array.prototype.map.call(
        list.querySelectorAll("input[name=task]:checked"), function (box) { return box.value; });
      var focused = document.activeElement && list.contains(document.activeElement)
        ? document.activeElement.id : null;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          list.innerHTML = html;
          ticked.forEach(function (id) {
            var box = list.querySelector("input[name=task][value='" + id + "']");
            if (box) { box.checked = true; }
          });
          if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
          list.setAttribute("data-refreshed", String(Date.now()));
        });
    }, 150);
  }

  function onMessage(message) {
    document.dispatchEvent(new CustomEvent("flowdesk:task", { detail: message }));
    if (inbox) {
      say(describe(message));
      reloadList();
    }
    refreshBadge();
  }

  var delay = 1000;
  function connect() {
    if (!("WebSocket" in window)) { return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/tasks/");
    socket.onopen = function () {
      delay = 1000;
      document.documentElement.setAttribute("data-live", "connected");
    };
    socket.onmessage = function (event) {
      try { onMessage(JSON.parse(event.data)); } catch (e) { /* ignore a bad frame */ }
    };
    socket.onclose = function (event) {
      document.documentElement.setAttribute("data-live", "closed");
      if (event.code === 4401) { return; }  // signed out: do not knock again
      // Back off up to 30 s; the page stays usable meanwhile.
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  // "Select all" in the list header (the list is replaced on refresh: delegate).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.hasAttribute && target.hasAttribute("data-select-all")) {
      var form = target.form || document;
      Array.prototype.forEach.call(form.querySelectorAll("input[name=task]"), function (box) {
        box.checked = target.checked;
      });
    }
  });

  refreshBadge();
  connect();
})();
