"""Write a MARS-labs SQLite database for trying and timing ``manage.py import_marslabs``.

    python bench/make_marslabs_db.py 100000 --output /tmp/marslabs-100k.db

N users and 2N progress documents, deterministic (``--seed``): Indian first
and last names (so many learners share a name: john.doe, john.doe2, ...),
ages as strings with some junk ("", "abc", "17 years", "200"), subjects
phy/chem/math/bio (bio has no chapters in the demo curriculum, and
"physics" is sometimes spelt out), titles from the demo curriculum
(curriculum/data/demo_curriculum.json) in MARS-labs spellings ("ohms law",
"OHM'S LAW", "Ohms  Law") and some titles no chapter has. The tables follow
the seed (../shared/seeds/000_eb6f2c4be0fd786a.txt); ``--table-case lower``
writes "user"/"progress" as some copies do. Standard library only.
"""

import argparse
import json
import random
import sqlite3
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "curriculum" / "data" / "demo_curriculum.json"

_FIRST = (
    "Aarav Vivaan Aditya Vihaan Arjun Sai Reyansh Ayaan Krishna Ishaan Shaurya Atharv Advik Pranav Advait Dhruv "
    "Kabir Ritvik Aarush Kayaan Rohan Rahul Amit Vikram Suresh Ravi Anil Sanjay Manoj Deepak Aanya Aadhya "
    "Ananya Pari Diya Saanvi Myra Ira Anika Navya Kiara Sara Meera Priya Pooja Neha Kavya Lakshmi Asha Sunita "
    "Divya Sneha Shreya Riya Tanvi Nisha Fatima Zoya Gurpreet Harpreet"
)
FIRST_NAMES = _FIRST.split()
_LAST = (
    "Sharma Verma Gupta Singh Kumar Patel Shah Mehta Iyer Iyengar Nair Menon Pillai Reddy Rao Naidu Joshi "
    "Kulkarni Deshpande Patil Chavan Jadhav Banerjee Chatterjee Mukherjee Das Bose Ghosh Sen Dutta Khan "
    "Ahmed Qureshi Gill Sandhu Dhillon Chauhan Yadav Mishra Tiwari Pandey Dubey Saxena Agarwal Bansal Jain"
)
LAST_NAMES = _LAST.split()
# Some learners typed their names in Devanagari or left a part out.
OTHER_NAMES = (("राहुल", "शर्मा"), ("प्रिया", ""), ("", "Kumar"), ("Mary Ann", "D'Souza"), ("José", "Fernandes"))
JUNK_AGES = ("", "abc", "N/A", "-1", "200", "sixteen", "0")
UNKNOWN_TITLES = {
    "phy": ("Newton's Laws of Motion", "Simple Pendulum", "Zener Diode"),
    "chem": ("Chromatography", "Salt Analysis"),
    "math": ("Sets and Relations",),
    "bio": ("Photosynthesis", "Osmosis", "Mitosis"),
}


def spellings(title):
    """How MARS-labs clients wrote a title: as is, lower case, without apostrophes, shouting, odd spaces."""
    plain = title.replace("'", "")
    return (title, title.lower(), plain.lower(), title.upper(), plain.replace(" ", "  "), f" {title} ")


def demo_titles():
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    # Only labs: MARS-labs listed experiments and their quizzes, never the reading-only chapters.
    return {
        s["code"]: [c["title"] for c in s["chapters"] if any(st["step_type"] == "interactive" for st in c["steps"])]
        for s in data["subjects"]
    }


def document(rng, titles):
    subjects = rng.sample(("phy", "chem", "math", "bio"), k=rng.choice((1, 1, 2, 2, 3)))
    progress = {}
    for code in subjects:
        known = titles.get(code, [])

        def pick(known=known, code=code):
            chosen = []
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                if known and rng.random() < 0.9:
                    chosen.append(rng.choice(spellings(rng.choice(known))))
                else:
                    chosen.append(rng.choice(UNKNOWN_TITLES[code]))
            return chosen

        key = "physics" if code == "phy" and rng.random() < 0.05 else code
        progress[key] = {"completed_experiments": pick(), "completed_quizzes": pick()}
    grade = rng.choice((12, 12, 12, 11, "12"))
    return {"class": grade, "subject_progress": progress}


def make(n, output, *, seed=1, table_case="seed"):
    rng = random.Random(seed)
    titles = demo_titles()
    user_table, progress_table = {"seed": ("User", "Progress"), "lower": ("user", "progress"),
                                  "upper": ("USER", "PROGRESS")}[table_case]
    output = Path(output)
    output.unlink(missing_ok=True)
    connection = sqlite3.connect(output)
    connection.executescript(f"""
        CREATE TABLE "{user_table}" (
            id INTEGER NOT NULL, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
            age VARCHAR(4) NOT NULL, PRIMARY KEY (id));
        CREATE TABLE "{progress_table}" (
            id INTEGER NOT NULL, user_id INTEGER NOT NULL, progress_data JSON NOT NULL, PRIMARY KEY (id),
            FOREIGN KEY(user_id) REFERENCES "{user_table}" (id));
    """)
    users = []
    for user_id in range(1, n + 1):
        if rng.random() < 0.01:
            first, last = rng.choice(OTHER_NAMES)
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        age = rng.choice(JUNK_AGES) if rng.random() < 0.03 else str(rng.randint(11, 18))
        users.append((user_id, first, last, age))
    documents = [
        (doc_id, rng.randint(1, n), json.dumps(document(rng, titles), ensure_ascii=False))
        for doc_id in range(1, 2 * n + 1)
    ]
    with connection:
        connection.executemany(f'INSERT INTO "{user_table}" VALUES (?, ?, ?, ?)', users)
        connection.executemany(f'INSERT INTO "{progress_table}" VALUES (?, ?, ?)', documents)
    connection.close()
    return output


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of users (documents: twice as many)")
    parser.add_argument("--output", "-o", default="marslabs.db", help="the SQLite file to write (replaced)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--table-case", choices=("seed", "lower", "upper"), default="seed")
    args = parser.parse_args()
    path = make(args.n, args.output, seed=args.seed, table_case=args.table_case)
    print(f"Wrote {path}: {args.n} users, {2 * args.n} progress documents.")


if __name__ == "__main__":
    main()
