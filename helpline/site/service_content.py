"""Plain-language text of the "types of care" pages.

Written to inform, not to sell: what each kind of care is, who it tends to
suit, what a day looks like, and what to ask a provider. Kept as data (not
template prose) so every service page has the same shape and a test can check
that every service code has a page. Every string is marked for translation
(``gettext_noop``): the templates translate them as they render, and
``makemessages`` keeps their Spanish in the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_noop


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
        title=gettext_noop("Medical detox"),
        summary=(
            gettext_noop(
                "Detox is care for the first days after someone stops drinking or using drugs, when the body is "
                "adjusting and withdrawal can be uncomfortable or, for some substances, dangerous."
            )
        ),
        sections=(
            Section(
                gettext_noop("What it is"),
                (
                    gettext_noop(
                        "In medical detox, nurses and doctors watch over a person while withdrawal runs its course. "
                        "They check vital signs, treat symptoms and can give medicines that make withdrawal safer "
                        "and easier."
                    ),
                    gettext_noop(
                        "Withdrawal from alcohol, benzodiazepines (such as Xanax or Valium) and some other sedatives "
                        "can cause seizures and can be life-threatening. Stopping these suddenly without medical "
                        "advice is not safe. Opioid withdrawal is rarely dangerous in itself but can be very hard "
                        "to get through alone."
                    ),
                ),
            ),
            Section(
                gettext_noop("What to expect"),
                (
                    gettext_noop(
                        "Detox usually lasts from a few days to about a week, depending on the substance and the "
                        "person. It may take place in a hospital, in a separate detox unit, or at home with "
                        "regular check-ins for people at lower risk."
                    ),
                    gettext_noop(
                        "Detox on its own is a first step, not treatment of the addiction. A good program helps "
                        "plan what comes next, such as residential care, outpatient care or medication."
                    ),
                ),
            ),
        ),
        questions=(
            gettext_noop("Is a doctor or nurse on site around the clock?"),
            gettext_noop("Which medicines do you use for withdrawal?"),
            gettext_noop("What happens after detox ends, and do you help arrange it?"),
        ),
    ),
    "residential": ServicePage(
        code="residential",
        title=gettext_noop("Residential treatment"),
        summary=(
            gettext_noop(
                "In residential treatment (sometimes called inpatient rehab) a person lives at the treatment "
                "center for a period of time and takes part in a full daily schedule of care."
            )
        ),
        sections=(
            Section(
                gettext_noop("What it is"),
                (
                    gettext_noop(
                        "Residential programs combine individual counseling, group therapy, education about "
                        "addiction, and time to practise new routines, away from the everyday triggers of home."
                    ),
                    gettext_noop(
                        "Stays are often between two weeks and a few months. The right length depends on the "
                        "person's needs, not on a fixed number of days."
                    ),
                ),
            ),
            Section(
                gettext_noop("Who it may suit"),
                (
                    gettext_noop(
                        "People whose home surroundings make staying sober very hard, people who have tried "
                        "outpatient care without success, and people who need more structure and support than "
                        "a few hours a week can give."
                    ),
                ),
            ),
        ),
        questions=(
            gettext_noop("Is the program licensed by the state, and is it accredited?"),
            gettext_noop("What therapies do you use, and are they backed by research?"),
            gettext_noop("Do you offer or allow medication for opioid or alcohol use disorder?"),
            gettext_noop("What does it cost, and which insurance do you accept?"),
        ),
    ),
    "outpatient": ServicePage(
        code="outpatient",
        title=gettext_noop("Outpatient treatment"),
        summary=(
            gettext_noop(
                "Outpatient treatment means visiting a clinic or counselor for appointments while living at home "
                "and keeping up with work, school or family."
            )
        ),
        sections=(
            Section(
                gettext_noop("What it is"),
                (
                    gettext_noop(
                        "Standard outpatient care is usually a few hours a week: one-to-one counseling, group "
                        "sessions, or both. Some programs also offer medication and help with other health needs."
                    ),
                    gettext_noop(
                        "It is often the next step after detox or residential care, and it can also be where "
                        "treatment starts for someone with a stable home and a strong wish to change."
                    ),
                ),
            ),
            Section(
                gettext_noop("What to expect"),
                (
                    gettext_noop(
                        "You agree on a schedule with the program. Many offer evening appointments, and some "
                        "offer sessions by video."
                    ),
                ),
            ),
        ),
        questions=(
            gettext_noop("How many hours a week, and at what times?"),
            gettext_noop("Do you offer sessions by video?"),
            gettext_noop("Who will I see: a licensed counselor, a therapist, a doctor?"),
        ),
    ),
    "iop": ServicePage(
        code="iop",
        title=gettext_noop("Intensive outpatient (IOP)"),
        summary=(
            gettext_noop(
                "An intensive outpatient program (IOP) gives more hours of treatment than standard outpatient "
                "care, while the person still lives at home."
            )
        ),
        sections=(
            Section(
                gettext_noop("What it is"),
                (
                    gettext_noop(
                        "IOP usually means about nine or more hours of treatment a week, often three hours a day "
                        "on three to five days. Most of the time is spent in group therapy, with some individual "
                        "counseling."
                    ),
                    gettext_noop(
                        "It suits people who need real structure but can stay safely at home, and people stepping "
                        "down from residential care or partial hospitalization."
                    ),
                ),
            ),
        ),
        questions=(
            gettext_noop("How many days a week, and are there evening groups?"),
            gettext_noop("How long does the program usually last?"),
            gettext_noop("What happens if I need more support than IOP gives?"),
        ),
    ),
    "php": ServicePage(
        code="php",
        title=gettext_noop("Partial hospitalization (PHP)"),
        summary=(
            gettext_noop(
                "A partial hospitalization program (PHP), sometimes called day treatment, gives most of a day of "
                "treatment, several days a week, with the person going home in the evening."
            )
        ),
        sections=(
            Section(
                gettext_noop("What it is"),
                (
                    gettext_noop(
                        "PHP is the most intensive kind of care that does not involve staying overnight: often "
                        "around five or six hours a day, five days a week. It typically includes group and "
                        "individual therapy, medical and psychiatric care, and medication management."
                    ),
                    gettext_noop(
                        "It can be a step down from residential or hospital care, or a way to get intensive "
                        "help without leaving home at night."
                    ),
                ),
            ),
        ),
        questions=(
            gettext_noop("Is there a doctor or psychiatrist on the team?"),
            gettext_noop("Do you help with transport, or is there parking?"),
            gettext_noop("What is the plan when the program ends?"),
        ),
    ),
    "mat": ServicePage(
        code="mat",
        title=gettext_noop("Medication-assisted treatment (MAT)"),
        summary=(
            gettext_noop(
                "Medication-assisted treatment uses approved medicines, together with counseling, to treat opioid "
                "or alcohol use disorder."
            )
        ),
        sections=(
            Section(
                gettext_noop("What it is"),
                (
                    gettext_noop(
                        "For opioid use disorder, the medicines are buprenorphine (for example Suboxone), methadone "
                        "and naltrexone. For alcohol use disorder, they include naltrexone, acamprosate and "
                        "disulfiram. These medicines reduce cravings and withdrawal or block the effect of the "
                        "drug."
                    ),
                    gettext_noop(
                        "Medication for opioid use disorder greatly lowers the risk of dying from an overdose. "
                        "Taking a prescribed medicine as directed is treatment, not replacing one addiction with "
                        "another."
                    ),
                ),
            ),
            Section(
                gettext_noop("What to expect"),
                (
                    gettext_noop(
                        "A clinician assesses you and agrees a dose and a plan. Methadone is given at licensed "
                        "opioid treatment programs; buprenorphine and naltrexone can be prescribed in many "
                        "clinics and doctors' offices. People may stay on medication for months or years."
                    ),
                ),
            ),
        ),
        questions=(
            gettext_noop("Which medicines do you prescribe, and can I start quickly?"),
            gettext_noop("Do you require counseling alongside medication?"),
            gettext_noop("Can I keep taking my medication if I move to another level of care?"),
        ),
    ),
    "dual_diagnosis": ServicePage(
        code="dual_diagnosis",
        title=gettext_noop("Dual diagnosis"),
        summary=(
            gettext_noop(
                "Dual diagnosis (also called co-occurring disorders) means having a substance use problem and a "
                "mental health condition, such as depression, anxiety, PTSD or bipolar disorder, at the same time."
            )
        ),
        sections=(
            Section(
                gettext_noop("What it is"),
                (
                    gettext_noop(
                        "The two conditions often affect each other, so treating only one of them tends to work "
                        "less well. Integrated programs treat both together, with a team that includes mental "
                        "health professionals as well as addiction counselors."
                    ),
                    gettext_noop(
                        "Dual diagnosis care can be offered at any level: residential, partial hospitalization, "
                        "intensive outpatient or outpatient."
                    ),
                ),
            ),
        ),
        questions=(
            gettext_noop("Is there a psychiatrist or licensed mental health professional on the team?"),
            gettext_noop("Can you continue or adjust my mental health medication?"),
            gettext_noop("How do you coordinate care with my own doctor or therapist?"),
        ),
    ),
}
