"""Write a (deliberately messy) OLabs catalogue for trying and timing ``import_curriculum --format olabs``.

    python bench/make_olabs_catalogue.py 500 --output /tmp/olabs-500.json

N simulations, deterministic (``--seed``), shaped like the real catalogue
(``{subject id: {name, branches: {branch id: {name, simulations: {sim id:
{name, count}}}}}}``) and as messy: Physics also listed under a second id as
"physics", branches that are topics rather than classes, repeated simulation
names, Devanagari names, "N/A" placeholders, and a few values that are not
objects at all. Standard library only.
"""

import argparse
import json
import random
from pathlib import Path

SUBJECTS = {
    "1": "Physics", "2": "Chemistry", "3": "Biology", "4": "Maths", "9": "physics",  # the same subject again
    "7": "Computer Science", "8": "भौतिक विज्ञान",
}
TOPICS = {
    "Physics": ["Electricity", "Optics", "Mechanics", "Magnetism", "Heat", "Waves", "Semiconductors"],
    "Chemistry": ["Titration", "Salt Analysis", "Chromatography", "Acids and Bases", "Electrochemistry"],
    "Biology": ["Cells", "Plant Physiology", "Genetics", "Ecology", "Human Physiology"],
    "Maths": ["Geometry", "Trigonometry", "Calculus", "Statistics", "Algebra"],
    "Computer Science": ["Logic Gates", "Sorting", "Networks"],
}
EXPERIMENTS = [
    "Ohm's law", "Metre Bridge", "Potentiometer", "Focal length of a convex lens", "Simple pendulum",
    "Verification of Newton's law of cooling", "Resonance tube", "Zener diode characteristics",
    "Acid base titration", "Preparation of colloids", "Paper chromatography", "Study of osmosis",
    "Mitosis in onion root tip", "Pythagoras theorem", "Area under a curve", "Sorting algorithms",
]
HINDI = ["ओम का नियम", "सरल लोलक", "उत्तल लेंस की फोकस दूरी", "अम्ल क्षार अनुमापन"]


def make(n, output, *, seed=1):
    rng = random.Random(seed)
    catalogue = {}
    for subject_id, name in SUBJECTS.items():
        branches = {}
        topic_names = TOPICS.get(name.title() if name != "Maths" else name, TOPICS["Physics"])
        for branch_id in range(1, 5):
            branch_name = f"Class {8 + branch_id}" if branch_id <= 3 or name == "भौतिक विज्ञान" else rng.choice(
                topic_names)
            branches[str(branch_id)] = {"name": branch_name, "simulations": {}}
        catalogue[subject_id] = {"name": name, "branches": branches}
    # Mess that is not a simulation: placeholders and broken values.
    catalogue["N/A"] = {"name": "Unknown", "branches": {}}
    catalogue["5"] = "not a subject"
    catalogue["6"] = {"name": "N/A", "branches": {"1": {"name": "Class 9", "simulations": {"1": {"name": "Lost"}}}}}
    catalogue["1"]["branches"]["N/A"] = {"name": "N/A", "simulations": {}}
    catalogue["2"]["branches"]["9"] = ["broken"]

    subject_ids = list(SUBJECTS)
    for sim_number in range(1, n + 1):
        subject_id = rng.choice(subject_ids)
        branch = catalogue[subject_id]["branches"][str(rng.randint(1, 4))]
        roll = rng.random()
        if roll < 0.03:
            simulation = {"name": "N/A", "count": "N/A"}
        elif roll < 0.04:
            simulation = "not a simulation"
        elif roll < 0.05:
            simulation = {"count": "1"}  # no name
        elif SUBJECTS[subject_id] == "भौतिक विज्ञान" or roll < 0.08:
            simulation = {"name": rng.choice(HINDI), "count": str(rng.randint(1, 9))}
        elif roll < 0.30:
            simulation = {"name": rng.choice(EXPERIMENTS), "count": str(rng.randint(1, 9))}  # repeats
        else:
            simulation = {"name": f"{rng.choice(EXPERIMENTS)} {sim_number}", "count": str(rng.randint(1, 9))}
        branch["simulations"][str(sim_number)] = simulation
    output = Path(output)
    output.write_text(json.dumps(catalogue, ensure_ascii=False, indent=1), encoding="utf-8")
    return output


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of simulations")
    parser.add_argument("--output", "-o", default="olabs-catalogue.json")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"Wrote {make(args.n, args.output, seed=args.seed)}: {args.n} simulations.")


if __name__ == "__main__":
    main()
