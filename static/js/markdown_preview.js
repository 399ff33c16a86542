// Markdown preview for step content in the admin (curriculum/forms.py MarkdownTextarea).
// The server renders the text with the step page's own filter and sanitiser (nh3); the result
// is shown in a sandboxed iframe (no scripts, its own origin) with the step page's stylesheets,
// so it looks as learners will see it. Without JavaScript the button stays hidden and
// "View on site" shows the saved step.
"use strict";
(function () {
  function csrfToken(button) {
    const form = button.closest("form");
    const input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function reveal(root) {
    root.querySelectorAll("button[data-markdown-preview-url]").forEach(function (button) {
      // The inline's hidden template row is copied when a step is added; revealed then.
      if (!button.closest(".empty-form")) button.hidden = false;
    });
  }

  function escapeAttribute(text) {
    return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  function frameFor(box, button, html) {
    const links = (button.dataset.previewCss || "").split(" ").filter(Boolean).map(function (href) {
      return '<link rel="stylesheet" href="' + escapeAttribute(new URL(href, document.baseURI).href) + '">';
    }).join("");
    let frame = box.querySelector("iframe");
    if (!frame) {
      frame = document.createElement("iframe");
      frame.setAttribute("sandbox", ""); // no scripts, no same-origin access
      frame.setAttribute("title", "Preview");
      frame.style.width = "100%";
      frame.style.maxWidth = "48rem";
      frame.style.height = "24rem";
      frame.style.border = "1px solid var(--hairline-color, #ccc)";
      frame.style.background = "#fff";
      box.appendChild(frame);
    }
    frame.srcdoc = "<!doctype html><html><head><meta charset='utf-8'>" + links + "</head>" +
      "<body class='p-3'><div class='step-content'>" + html + "</div></body></html>";
  }

  async function toggle(button) {
    const tools = button.closest(".markdown-preview-tools");
    const source = tools.previousElementSibling;
    const box = tools.nextElementSibling;
    button.dataset.showLabel = button.dataset.showLabel || button.textContent;
    if (button.getAttribute("aria-expanded") === "true") {
      box.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.textContent = button.dataset.showLabel;
      return;
    }
    button.disabled = true;
    try {
      const body = new FormData();
      body.append("text", source.value);
      const response = await fetch(button.dataset.markdownPreviewUrl, {
        method: "POST",
        body: body,
        headers: { "X-CSRFToken": csrfToken(button) },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      const data = await response.json();
      frameFor(box, button, data.html || "<p><em>(empty)</em></p>");
      box.hidden = false;
      button.setAttribute("aria-expanded", "true");
      button.textContent = button.dataset.hideLabel || "Hide preview";
    } catch (error) {
      box.textContent = "The preview could not be loaded (" + error.message + "). Save, then use “View on site”.";
      box.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-markdown-preview-url]");
    if (!button) return;
    event.preventDefault();
    toggle(button);
  });
  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("formset:added", function (event) { reveal(event.target); });
})();
