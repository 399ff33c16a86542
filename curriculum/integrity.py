"""Structural checks on the curriculum graph, shared by admin forms and `check_curriculum`."""

from django.utils.translation import gettext as _

from .models import Chapter


def _cycle_from(start, new_parent, parents):
    """Follow prerequisite links from ``new_parent``; return the loop back to ``start``, if any."""
    path, seen, node = [start], {start}, new_parent
    while node is not None:
        path.append(node)
        if node == start:
            return path
        if node in seen:  # a loop that does not pass through start: reported for its own members
            return None
        seen.add(node)
        node = parents.get(node)
    return None


def prerequisite_cycle(model, obj_id, new_prerequisite_id):
    """If ``obj`` took ``new_prerequisite_id`` as its prerequisite, the cycle it would close.

    Returns the titles along the loop (["Titration", "Mole Concept", "Titration"])
    or None. One query: every (id, prerequisite, title) of the model.
    """
    if new_prerequisite_id is None:
        return None
    field = "prerequisite_chapter_id" if model is Chapter else "prerequisite_step_id"
    rows = model.objects.values_list("id", field, "title")
    parents = {pk: parent for pk, parent, _title in rows}
    titles = {pk: title for pk, _parent, title in rows}
    parents[obj_id] = new_prerequisite_id
    cycle = _cycle_from(obj_id, new_prerequisite_id, parents)
    return [titles.get(pk, "?") for pk in cycle] if cycle else None


def describe_cycle(titles):
    return _("prerequisites form a loop: %(loop)s") % {"loop": " → ".join(titles)}


def all_prerequisite_cycles(model):
    """Every distinct prerequisite loop in ``model`` (Chapter or LearningStep), as title lists."""
    field = "prerequisite_chapter_id" if model is Chapter else "prerequisite_step_id"
    rows = list(model.objects.values_list("id", field, "title"))
    parents = {pk: parent for pk, parent, _title in rows}
    titles = {pk: title for pk, _parent, title in rows}
    cycles, reported = [], set()
    for pk, parent, _title in rows:
        if pk in reported or parent is None:
            continue
        cycle = _cycle_from(pk, parent, parents)
        if cycle and not reported.intersection(cycle):
            reported.update(cycle)
            cycles.append([titles[n] for n in cycle])
    return cycles


