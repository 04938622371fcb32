/* An Sinh — small enhancements. Every page works without this file; it only adds comfort. */
(function () {
  "use strict";

  /* Forms with data-confirm ask before they are sent (e.g. revoking a key). */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  /* Buttons with data-copy-target copy that element's text. The clipboard API exists only on
     https or localhost; an intranet on plain http falls back to selecting the text and copying. */
  function copyText(target) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(target.textContent.trim());
    }
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var copied = document.execCommand && document.execCommand("copy");
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function setUpCopyButtons() {
    var buttons = document.querySelectorAll("[data-copy-target]");
    Array.prototype.forEach.call(buttons, function (button) {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        copyText(target).then(function () {
          button.textContent = button.getAttribute("data-copied-label");
        }, function () { /* the text stays selected for the person to copy by hand */ });
      });
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function splitCodes(text) {
    var seen = [];
    text.split(/[\s,;]+/).forEach(function (code) {
      if (code && seen.indexOf(code) === -1) { seen.push(code); }
    });
    return seen;
  }

  function lookup(url, params) {
    var query = Object.keys(params).map(function (key) {
      return encodeURIComponent(key) + "=" + encodeURIComponent(params[key]);
    }).join("&");
    return fetch(url + "?" + query, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { items: [] }; })
      .catch(function () { return { items: [] }; });
  }

  function describe(item) {
    return item.code + " — " + item.name + (item.province ? ", " + item.province : "");
  }

  /* The commune picker: names for the typed codes, and a search by name that adds codes. */
  function setUpCommunePicker(picker) {
    var url = picker.getAttribute("data-lookup-url");
    var codesInput = picker.querySelector("input[name=communes]");
    var names = picker.querySelector(".commune-names");
    var search = picker.querySelector(".commune-search");
    var searchInput = search.querySelector("input");
    var results = search.querySelector(".commune-results");
    var addLabel = picker.getAttribute("data-label-add");
    var unknownLabel = picker.getAttribute("data-label-unknown");
    search.hidden = false;

    function showNames() {
      var codes = splitCodes(codesInput.value);
      if (!codes.length) { names.textContent = ""; return; }
      lookup(url, { codes: codes.join(",") }).then(function (data) {
        names.textContent = "";
        data.items.forEach(function (item) {
          var li = document.createElement("li");
          if (item.name) {
            li.textContent = describe(item);
          } else {
            li.textContent = item.code + " — " + unknownLabel;
            li.className = "unknown";
          }
          names.appendChild(li);
        });
      });
    }

    function addCode(code) {
      var codes = splitCodes(codesInput.value);
      if (codes.indexOf(code) === -1) { codes.push(code); }
      codesInput.value = codes.join(", ");
      showNames();
    }

    function showResults() {
      var term = searchInput.value.trim();
      if (term.length < 2) { results.textContent = ""; return; }
      lookup(url, { q: term }).then(function (data) {
        results.textContent = "";
        data.items.forEach(function (item) {
          var li = document.createElement("li");
          var button = document.createElement("button");
          var text = document.createElement("span");
          button.type = "button";
          button.textContent = addLabel;
          button.setAttribute("aria-label", addLabel + " " + describe(item));
          button.addEventListener("click", function () { addCode(item.code); });
          text.textContent = describe(item);
          li.appendChild(button);
          li.appendChild(text);
          results.appendChild(li);
        });
      });
    }

    codesInput.addEventListener("input", debounce(showNames, 300));
    searchInput.addEventListener("input", debounce(showResults, 250));
    searchInput.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }  /* Enter searches, it does not submit */
    });
    showNames();
  }

  /* A run being computed or sent: poll its progress and reload the page when the step is over. */
  function setUpRunProgress(box) {
    var url = box.getAttribute("data-run-progress");
    var bar = box.querySelector("progress");
    var label = box.querySelector("[aria-live]");
    var format = new Intl.NumberFormat(document.documentElement.lang === "en" ? "en" : "vi");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (run) {
          if (!run) { setTimeout(poll, 3000); return; }
          var progress = run.progress || {};
          if (progress.total) { bar.max = progress.total; }
          bar.value = progress.done || 0;
          label.textContent = format.format(progress.done || 0) + " / " + format.format(progress.total || 0) +
            (progress.rate_per_second ? " (" + format.format(Math.round(progress.rate_per_second)) + "/s)" : "");
          if (!progress.phase || run.last_error) { window.location.reload(); return; }
          setTimeout(poll, 1000);
        }, function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 500);
  }

  /* File uploads with data-upload-progress: send with XMLHttpRequest to show how much has gone,
     then show the server's answer page. Without JavaScript the form posts normally. */
  function setUpUploadProgress(form) {
    var bar = form.querySelector("progress");
    if (!bar || !window.FormData) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      bar.hidden = false;
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
      });
      request.addEventListener("load", function () {
        document.open();
        document.write(request.responseText);
        document.close();
        if (request.responseURL) { window.history.replaceState(null, "", request.responseURL); }
      });
      request.addEventListener("error", function () { bar.hidden = true; form.submit(); });
      request.send(new FormData(form));
    });
  }

  /* Funding forms: the amount follows the chosen bank or commune (each option carries its shortfall), written
     with its thousands ("1.813.350.000", which the server reads), and an echo beside it says the amount typed
     ("= 1.813.350.000 đ"). An amount the officer typed is theirs: a change of bank or commune writes its
     shortfall only into a blank box or over the figure written for the one chosen before. Without JavaScript
     the box starts blank unless there is one place to choose. */
  var vietnameseNumber = new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 0 });

  function digitsOf(text) {
    return text.replace(/[.,\s]/g, "");
  }

  function setUpShortfallChoice(select) {
    var amount = document.getElementById(select.getAttribute("data-shortfall-for"));
    if (!amount) { return; }
    var written = digitsOf(amount.defaultValue);  /* the server's figure (one place to choose) counts as written */
    function follow() {
      var current = digitsOf(amount.value);
      if (current !== "" && current !== written) { return; }  /* typed by the officer: left as it is */
      var option = select.options[select.selectedIndex];
      var shortfall = option && option.getAttribute("data-shortfall");
      amount.value = shortfall ? vietnameseNumber.format(Number(shortfall)) : "";
      written = digitsOf(amount.value);
      amount.dispatchEvent(new Event("input"));
    }
    select.addEventListener("change", follow);
    follow();
  }

  function setUpAmountEcho(echo) {
    var amount = document.getElementById(echo.getAttribute("data-amount-echo"));
    if (!amount) { return; }
    function show() {
      var digits = digitsOf(amount.value);
      echo.textContent = /^[0-9]+$/.test(digits) ? "= " + vietnameseNumber.format(Number(digits)) + " đ" : "";
    }
    amount.addEventListener("input", show);
    show();
  }

  /* The menu is one row that scrolls sideways on a phone: bring the current page's link into view. */
  function showCurrentMenuItem() {
    var current = document.querySelector(".main-nav a[aria-current=page]");
    var list = current && current.closest("ul");
    if (list && list.scrollWidth > list.clientWidth) {
      list.scrollLeft = current.offsetLeft - (list.clientWidth - current.offsetWidth) / 2;
    }
  }

  /* Print buttons (hidden without JavaScript; the browser's own print works anyway). */
  function setUpPrintButtons() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  function start() {
    setUpPrintButtons();
    setUpCopyButtons();
    Array.prototype.forEach.call(document.querySelectorAll("[data-commune-picker]"), setUpCommunePicker);
    Array.prototype.forEach.call(document.querySelectorAll("[data-run-progress]"), setUpRunProgress);
    Array.prototype.forEach.call(document.querySelectorAll("[data-upload-progress]"), setUpUploadProgress);
    Array.prototype.forEach.call(document.querySelectorAll("[data-amount-echo]"), setUpAmountEcho);
    Array.prototype.forEach.call(document.querySelectorAll("[data-shortfall-for]"), setUpShortfallChoice);
    showCurrentMenuItem();
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
