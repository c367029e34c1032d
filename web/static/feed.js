/* pbxbridge live feed (web/feed.py): the staff page's side. No build step, no library.

   The admin layout has <section id="live-feed" data-feed-url="/admin/feed" data-t-…="…">
   with a [data-feed-state] element and a [data-feed-list] list. This script opens a
   WebSocket to data-feed-url, shows each event at the top of the list (30 kept) and
   reconnects by itself: 0.5 s, 1 s, 2 s … up to 30 s, with jitter, reset once connected.
   On "resync" (events were dropped for this page) the page reloads to show the state as
   it is now. Texts come from the section's data-t-* attributes (translated by the
   template); values are written with textContent only, never as HTML.

   Pages may show live figures: an element with data-campaign-done="<id>" gets the
   campaign's done count, a <progress data-campaign-progress="<id>"> its value and max.
   Every message is also dispatched on the section as a "pbxbridge:feed" CustomEvent. */
(function () {
  "use strict";
  var root = document.getElementById("live-feed");
  if (!root || !window.WebSocket) {
    return;
  }
  var list = root.querySelector("[data-feed-list]");
  var state = root.querySelector("[data-feed-state]");
  var MAX_ITEMS = 30;
  var attempt = 0;

  function t(key) {
    return root.getAttribute("data-t-" + key) || key;
  }

  function socketUrl() {
    var url = new URL(root.getAttribute("data-feed-url"), window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  function setState(name) {
    root.setAttribute("data-state", name);
    if (state) {
      state.textContent = t(name);
    }
  }

  function add(parent, tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    parent.appendChild(node);
    return node;
  }

  function item(kind, callId) {
    var li = document.createElement("li");
    li.className = "feed-item feed-" + kind;
    if (callId) {
      li.setAttribute("data-call", callId);
    }
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_ITEMS) {
      list.removeChild(list.lastChild);
    }
    return li;
  }

  function callItem(id) {
    var found = null;
    Array.prototype.forEach.call(list.querySelectorAll("[data-call]"), function (li) {
      if (li.getAttribute("data-call") === id) {
        found = li;
      }
    });
    return found || item("call", id);
  }

  function field(dl, label, value) {
    if (value === undefined || value === null || value === "") {
      return;
    }
    add(dl, "dt", "", t(label));
    add(dl, "dd", "", value);
  }

  function card(data) {
    var li = callItem(data.id);
    var old = li.querySelector(".feed-card");
    if (old) {
      li.removeChild(old);
    }
    var box = add(li, "div", "feed-card");
    if (!data.found) {
      add(box, "p", "feed-unknown", data.error ? t("billing-error") : t("not-subscriber"));
      return;
    }
    add(box, "p", "feed-who status-" + data.status, data.login + " · " + data.name);
    var dl = add(box, "dl", "feed-facts");
    field(dl, "status", t("status-" + data.status_word));
    field(dl, "balance", data.balance);
    field(dl, "days-left", data.days_left);
    field(dl, "tariff", data.tariff);
    if (data.payments && data.payments.length) {
      field(dl, "payments", data.payments.map(function (p) {
        return p.at + " +" + p.amount;
      }).join(", "));
    }
  }

  function campaign(data) {
    var li = item("campaign");
    add(li, "p", "feed-title", t("campaign") + " " + data.name + ": " + data.done + "/" + data.numbers);
    Array.prototype.forEach.call(document.querySelectorAll("[data-campaign-done]"), function (el) {
      if (el.getAttribute("data-campaign-done") === String(data.id)) {
        el.textContent = String(data.done);
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll("progress[data-campaign-progress]"), function (el) {
      if (el.getAttribute("data-campaign-progress") === String(data.id)) {
        el.max = Math.max(1, data.numbers);
        el.value = data.done;
      }
    });
  }

  var handlers = {
    hello: function () {
      attempt = 0;
      setState("live");
    },
    call: function (data) {
      var li = callItem(data.id);
      add(li, "p", "feed-title", t("call") + " " + data.number);
    },
    card: card,
    hangup: function (data) {
      callItem(data.id).classList.add("feed-ended");
    },
    missed: function (data) {
      var who = data.login ? " (" + data.login + ")" : "";
      add(item("missed"), "p", "feed-title", t("missed") + " " + data.number + who);
    },
    sms: function (data) {
      var li = item("sms");
      add(li, "p", "feed-title", t("sms") + " " + data.sender + (data.login ? " (" + data.login + ")" : ""));
      add(li, "p", "feed-text", data.text);
    },
    campaign: campaign,
    alert: function (data) {
      add(item("alert"), "p", "feed-title", t("alert") + " " + data.text);
    },
    resync: function () {
      window.location.reload();
    }
  };

  function connect() {
    setState("connecting");
    var socket = new WebSocket(socketUrl());
    socket.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      root.setAttribute("data-last-kind", message.kind);
      root.setAttribute("data-last-received", String(Date.now()));
      var handle = handlers[message.kind];
      if (handle) {
        handle(message.data || {});
      }
      root.dispatchEvent(new CustomEvent("pbxbridge:feed", { detail: message }));
    };
    socket.onclose = function () {
      setState("offline");
      var delay = Math.min(30000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
      attempt = Math.min(attempt + 1, 10);
      window.setTimeout(connect, delay);
    };
  }

  connect();
}());
