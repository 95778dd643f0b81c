"""Plain-language text of the "types of care" pages.

Written to inform, not to sell: what each kind of care is, who it tends to
suit, what a day looks like, and what to ask a provider. Kept as data (not
template prose) so every service page has the same shape and a test can check
that every service code has a page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class ServicePage:
    code: str
    title: str
    summary: str
    sections: tuple[Section, ...]
    questions: tuple[str, ...]


PAGES: dict[str, ServicePage] = {
    "detox": ServicePage(
        code="detox",
        title="Medical detox",
        summary=(
            "Detox is care for the first days after someone stops drinking or using drugs, when the body is "
            "adjusting and withdrawal can be uncomfortable or, for some substances, dangerous."
        ),
        sections=(
            Section(
                "What it is",
                (
                    "In medical detox, nurses and doctors watch over a person while withdrawal runs its course. "
                    "They check vital signs, treat symptoms and can give medicines that make withdrawal safer "
                    "and easier.",
                    "Withdrawal from alcohol, benzodiazepines (such as Xanax or Valium) and some other sedatives "
                    "can cause seizures and can be life-threatening. Stopping these suddenly without medical "
                    "advice is not safe. Opioid withdrawal is rarely dangerous in itself but can be very hard "
                    "to get through alone.",
                ),
            ),
            Section(
                "What to expect",
                (
                    "Detox usually lasts from a few days to about a week, depending on the substance and the "
                    "person. It may take place in a hospital, in a separate detox unit, or at home with "
                    "regular check-ins for people at lower risk.",
                    "Detox on its own is a first step, not treatment of the addiction. A good program helps "
                    "plan what comes next, such as residential care, outpatient care or medication.",
                ),
            ),
        ),
        questions=(
            "Is a doctor or nurse on site around the clock?",
            "Which medicines do you use for withdrawal?",
            "What happens after detox ends, and do you help arrange it?",
        ),
    ),
    "residential": ServicePage(
        code="residential",
        title="Residential treatment",
        summary=(
            "In residential treatment (sometimes called inpatient rehab) a person lives at the treatment "
            "center for a period of time and takes part in a full daily schedule of care."
        ),
        sections=(
            Section(
                "What it is",
                (
                    "Residential programs combine individual counseling, group therapy, education about "
                    "addiction, and time to practise new routines, away from the everyday triggers of home.",
                    "Stays are often between two weeks and a few months. The right length depends on the "
                    "person's needs, not on a fixed number of days.",
                ),
            ),
            Section(
                "Who it may suit",
                (
                    "People whose home surroundings make staying sober very hard, people who have tried "
                    "outpatient care without success, and people who need more structure and support than "
                    "a few hours a week can give.",
                ),
            ),
        ),
        questions=(
            "Is the program licensed by the state, and is it accredited?",
            "What therapies do you use, and are they backed by research?",
            "Do you offer or allow medication for opioid or alcohol use disorder?",
            "What does it cost, and which insurance do you accept?",
        ),
    ),
    "outpatient": ServicePage(
        code="outpatient",
        title="Outpatient treatment",
        summary=(
            "Outpatient treatment means visiting a clinic or counselor for appointments while living at home "
            "and keeping up with work, school or family."
        ),
        sections=(
            Section(
                "What it is",
                (
                    "Standard outpatient care is usually a few hours a week: one-to-one counseling, group "
                    "sessions, or both. Some programs also offer medication and help with other health needs.",
                    "It is often the next step after detox or residential care, and it can also be where "
                    "treatment starts for someone with a stable home and a strong wish to change.",
                ),
            ),
            Section(
                "What to expect",
                (
                    "You agree on a schedule with the program. Many offer evening appointments, and some "
                    "offer sessions by video.",
                ),
            ),
        ),
        questions=(
            "How many hours a week, and at what times?",
            "Do you offer sessions by video?",
            "Who will I see: a licensed counselor, a therapist, a doctor?",
        ),
    ),
    "iop": ServicePage(
        code="iop",
        title="Intensive outpatient (IOP)",
        summary=(
            "An intensive outpatient program (IOP) gives more hours of treatment than standard outpatient "
            "care, while the person still lives at home."
        ),
        sections=(
            Section(
                "What it is",
                (
                    "IOP usually means about nine or more hours of treatment a week, often three hours a day "
                    "on three to five days. Most of the time is spent in group therapy, with some individual "
                    "counseling.",
                    "It suits people who need real structure but can stay safely at home, and people stepping "
                    "down from residential care or partial hospitalization.",
                ),
            ),
        ),
        questions=(
            "How many days a week, and are there evening groups?",
            "How long does the program usually last?",
            "What happens if I need more support than IOP gives?",
        ),
    ),
    "php": ServicePage(
        code="php",
        title="Partial hospitalization (PHP)",
        summary=(
            "A partial hospitalization program (PHP), sometimes called day treatment, gives most of a day of "
            "treatment, several days a week, with the person going home in the evening."
        ),
        sections=(
            Section(
                "What it is",
                (
                    "PHP is the most intensive kind of care that does not involve staying overnight: often "
                    "around five or six hours a day, five days a week. It typically includes group and "
                    "individual therapy, medical and psychiatric care, and medication management.",
                    "It can be a step down from residential or hospital care, or a way to get intensive "
                    "help without leaving home at night.",
                ),
            ),
        ),
        questions=(
            "Is there a doctor or psychiatrist on the team?",
            "Do you help with transport, or is there parking?",
            "What is the plan when the program ends?",
        ),
    ),
    "mat": ServicePage(
        code="mat",
        title="Medication-assisted treatment (MAT)",
        summary=(
            "Medication-assisted treatment uses approved medicines, together with counseling, to treat opioid "
            "or alcohol use disorder."
        ),
        sections=(
            Section(
                "What it is",
                (
                    "For opioid use disorder, the medicines are buprenorphine (for example Suboxone), methadone "
                    "and naltrexone. For alcohol use disorder, they include naltrexone, acamprosate and "
                    "disulfiram. These medicines reduce cravings and withdrawal or block the effect of the "
                    "drug.",
                    "Medication for opioid use disorder greatly lowers the risk of dying from an overdose. "
                    "Taking a prescribed medicine as directed is treatment, not replacing one addiction with "
                    "another.",
                ),
            ),
            Section(
                "What to expect",
                (
                    "A clinician assesses you and agrees a dose and a plan. Methadone is given at licensed "
                    "opioid treatment programs; buprenorphine and naltrexone can be prescribed in many "
                    "clinics and doctors' offices. People may stay on medication for months or years.",
                ),
            ),
        ),
        questions=(
            "Which medicines do you prescribe, and can I start quickly?",
            "Do you require counseling alongside medication?",
            "Can I keep taking my medication if I move to another level of care?",
        ),
    ),
    "dual_diagnosis": ServicePage(
        code="dual_diagnosis",
        title="Dual diagnosis",
        summary=(
            "Dual diagnosis (also called co-occurring disorders) means having a substance use problem and a "
            "mental health condition, such as depression, anxiety, PTSD or bipolar disorder, at the same time."
        ),
        sections=(
            Section(
                "What it is",
                (
                    "The two conditions often affect each other, so treating only one of them tends to work "
                    "less well. Integrated programs treat both together, with a team that includes mental "
                    "health professionals as well as addiction counselors.",
                    "Dual diagnosis care can be offered at any level: residential, partial hospitalization, "
                    "intensive outpatient or outpatient.",
                ),
            ),
        ),
        questions=(
            "Is there a psychiatrist or licensed mental health professional on the team?",
            "Can you continue or adjust my mental health medication?",
            "How do you coordinate care with my own doctor or therapist?",
        ),
    ),
}
