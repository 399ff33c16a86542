// Step forms in the admin: show only the fields the chosen step type and completion rule need.
// Without JavaScript every field shows, each with help text saying when it applies.
// When a teacher picks a step type and has not chosen a completion rule by hand, the usual
// rule for that type is proposed (quiz -> quiz score 70 %, video -> opened, ...).
"use strict";
(function () {
  const RULE_FOR_TYPE = { reading: "time", quiz: "quiz", video: "view", interactive: "external", exercise: "submission" };

  // field -> shown when (criteria type, step type) says so
  const WANTED = {
    criteria_seconds: function (rule) { return rule === "time"; },
    criteria_min_score: function (rule) { return rule === "quiz"; },
    questions: function (rule, type) { return rule === "quiz" || type === "quiz"; },
    video_url: function (rule, type) { return type === "video"; },
    simulation_url: function (rule, type) { return type === "interactive"; },
    expected_answer: function (rule, type) { return type === "exercise" || rule === "submission"; },
    instructions: function (rule, type) { return type === "video" || type === "interactive" || type === "exercise"; },
  };

  function scopeOf(element) {
    return element.closest(".inline-related") || element.closest("form");
  }

  function fieldBlock(scope, name) {
    const box = scope.querySelector(".fieldBox.field-" + name);
    if (box) return box.parentElement; // a field sharing a line: its wrapper holds the help text too
    return scope.querySelector(".form-row.field-" + name);
  }

  function control(scope, name) {
    return scope.querySelector("[name$='" + name + "']");
  }

  function hasContent(scope, name) {
    const input = control(scope, name);
    const block = fieldBlock(scope, name);
    return Boolean((input && input.value && input.value.trim()) || (block && block.querySelector(".errorlist")));
  }

  function update(scope) {
    const rule = control(scope, "criteria_type");
    const type = control(scope, "step_type");
    if (!rule || !type) return;
    Object.keys(WANTED).forEach(function (name) {
      const block = fieldBlock(scope, name);
      if (!block) return;
      // Never hide something the teacher wrote or an error they must see.
      const show = WANTED[name](rule.value, type.value) || (name !== "criteria_seconds" && name !== "criteria_min_score" && hasContent(scope, name));
      block.hidden = !show;
    });
    scope.querySelectorAll("fieldset").forEach(function (fieldset) {
      const rows = fieldset.querySelectorAll(".form-row");
      if (!rows.length) return;
      const visible = Array.prototype.some.call(rows, function (row) {
        if (row.hidden) return false;
        const boxes = row.querySelectorAll(".fieldBox");
        return !boxes.length || Array.prototype.some.call(boxes, function (b) { return !b.parentElement.hidden; });
      });
      fieldset.hidden = !visible;
    });
  }

  function proposeRule(scope) {
    const rule = control(scope, "criteria_type");
    const type = control(scope, "step_type");
    if (!rule || !type || rule.dataset.touched === "yes") return;
    const proposed = RULE_FOR_TYPE[type.value];
    if (!proposed) return;
    rule.value = proposed;
    const seconds = control(scope, "criteria_seconds");
    const pass = control(scope, "criteria_min_score");
    if (proposed === "time" && seconds && !seconds.value) seconds.value = "60";
    if (proposed === "quiz" && pass && !pass.value) pass.value = "70";
  }

  document.addEventListener("change", function (event) {
    const name = event.target.name || "";
    if (name.endsWith("criteria_type")) event.target.dataset.touched = "yes";
    if (name.endsWith("step_type")) proposeRule(scopeOf(event.target));
    if (name.endsWith("criteria_type") || name.endsWith("step_type")) update(scopeOf(event.target));
  });

  function init(root) {
    root.querySelectorAll("select[name$='criteria_type']").forEach(function (select) {
      if (select.closest(".empty-form")) return;
      // A saved step's rule was chosen on purpose: keep it when the type changes.
      if (select.value) {
        const scope = scopeOf(select);
        const title = control(scope, "title");
        if (title && title.value) select.dataset.touched = "yes";
      }
      update(scopeOf(select));
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("formset:added", function (event) { init(event.target); });
})();
