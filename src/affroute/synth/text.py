"""Ticket subjects and bodies written the way affiliate partners write them.

Every phrasing here was written for this generator. Categories share vocabulary on purpose
(commission, conversion, tracking, leads, report) so that a text classifier has real work.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from affroute.domain import Category, Urgency


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What a partner knows when writing a ticket: the inputs to one subject and body."""

    category: Category
    partner_name: str
    campaign_name: str | None
    urgency_cue: Urgency | None
    channel: str


SUBJECTS: dict[Category, tuple[str, ...]] = {
    Category.COMMISSION_DISPUTE: (
        "Commission rate wrong on {campaign}",
        "Disputing commissions for {month}",
        "Missing commission on {count} conversions",
        "Commission reversed without explanation",
        "We were paid the old commission rate",
        "Question about declined commissions",
        "Commission lower than agreed",
        "Locked commissions do not match our report",
        "Reversal rate on {campaign} looks wrong",
        "Commission adjustment request",
        "Why were {count} sales voided?",
        "Bonus commission not applied",
    ),
    Category.PAYOUT: (
        "Payout for {month} not received",
        "Where is our payment?",
        "Payout delayed again",
        "Invoice {invoice} still unpaid",
        "Bank details update before next payout",
        "Payment threshold question",
        "Payout amount does not match balance",
        "Missing transfer of {amount}",
        "Wrong currency on last payout",
        "Payout stuck in pending",
        "Tax form needed for payouts?",
        "Remittance advice for {month}",
    ),
    Category.LEAD_QUALITY: (
        "Leads rejected as low quality",
        "Why are our leads being declined?",
        "Lead rejection rate on {campaign}",
        "Duplicate leads flagged incorrectly",
        "Question on lead validation rules",
        "{pct}% of leads rejected this week",
        "Lead scoring feedback needed",
        "Advertiser says our leads are junk",
        "Invalid leads on {campaign}",
        "Lead quality report request",
        "Leads marked as fraud",
        "Lead approvals dropped",
    ),
    Category.TRACKING_ATTRIBUTION: (
        "Conversions not tracking",
        "Tracking broken on {campaign}",
        "Clicks recorded but no conversions",
        "Attribution going to another partner",
        "Postback not firing",
        "Pixel stopped working",
        "Conversion numbers differ from {network}",
        "Sales attributed to the wrong sub ID",
        "Tracking link redirects to 404",
        "Cookie window seems too short",
        "Click to conversion mismatch",
        "Zero conversions since {when}",
        "S2S tracking issue",
    ),
    Category.CAMPAIGN_PERFORMANCE: (
        "Performance dropped on {campaign}",
        "EPC falling on {campaign}",
        "Conversion rate down {pct}%",
        "How can we improve results on {campaign}?",
        "Campaign stats look off this week",
        "Low conversion rate question",
        "Request for campaign benchmarks",
        "{campaign} underperforming",
        "Traffic up but conversions flat",
        "Can we get a higher payout tier for {campaign}?",
        "Weekly performance review",
        "Campaign report request",
    ),
    Category.CREATIVE_REQUEST: (
        "New banners for {campaign}",
        "Need creatives for {campaign}",
        "Request for updated promo codes",
        "Logo files request",
        "Can we get product feed access?",
        "Custom landing page for our audience",
        "Creative sizes for mobile",
        "Exclusive coupon code request",
        "Brand assets for {month} promotion",
        "Video assets for {campaign}?",
        "Text links and banners outdated",
        "Deep link to the new collection",
    ),
    Category.ACCOUNT_ACCESS: (
        "Cannot log in to the portal",
        "Password reset not arriving",
        "Locked out of our account",
        "Add a new user to our account",
        "Two-factor code not working",
        "Dashboard not loading",
        "Access to reports removed",
        "API key stopped working",
        "Change account owner email",
        "Login error after update",
        "Need admin rights for a colleague",
        "SSO login fails",
    ),
    Category.COMPLIANCE: (
        "Question about disclosure rules",
        "Warning about brand bidding",
        "Is this ad copy allowed?",
        "Compliance notice received",
        "Trademark bidding on {campaign}",
        "GDPR consent for our leads",
        "Policy violation flag on our account",
        "Can we use coupon sites for {campaign}?",
        "Influencer disclosure requirements",
        "Terms update for our region",
        "Appeal of compliance decision",
        "Is cashback allowed on {campaign}?",
    ),
}

PROBLEMS: dict[Category, tuple[str, ...]] = {
    Category.COMMISSION_DISPUTE: (
        "We were paid {rate}% commission on {campaign} but our agreement says {rate2}%.",
        "{count} conversions from {when} were reversed and nobody told us why.",
        "The commission report shows {amount} but our own tracking says it should be more.",
        "Several sales were declined as returns, but the customers never returned anything.",
        "Our commission for {month} is missing the bonus we were promised.",
        "The commission on {campaign} was cut in the middle of the month.",
        "About {pct}% of our conversions were voided, which is far above normal.",
        "We think {amount} in commission was reversed by mistake.",
        "Locked commissions dropped by {amount} after the validation run.",
        "The tiered commission did not kick in even though we passed the threshold.",
        "Conversions show as approved in the dashboard, but the commission is zero.",
        "We would like to dispute the reversals on {campaign} for {month}.",
    ),
    Category.PAYOUT: (
        "Our payout for {month} has not arrived yet.",
        "The payout of {amount} was due on {when} and is still pending.",
        "We received a transfer, but it is {amount} short of the approved balance.",
        "The payment went to our old bank account.",
        "Invoice {invoice} is overdue and we have had no remittance.",
        "Our balance passed the payment threshold but no payout was scheduled.",
        "The payout arrived in the wrong currency and we lost money on conversion.",
        "Please update our bank details before the next payout run.",
        "Finance says the payment was sent, but our bank has nothing.",
        "We need a payout statement for {month} for our accountant.",
        "The commission is approved but the payout still says processing.",
        "Our payouts have been late three months in a row.",
    ),
    Category.LEAD_QUALITY: (
        "{pct}% of our leads on {campaign} were rejected this week.",
        "The advertiser marked {count} of our leads as invalid.",
        "Our leads are being flagged as duplicates, but they are unique sign-ups.",
        "We were told our lead quality is low, but no one explained the criteria.",
        "Approved leads dropped from {count} to almost nothing.",
        "Leads from our email list are being rejected as fraud.",
        "The lead validation seems to reject every lead from mobile.",
        "We would like to see the reasons behind the rejected leads.",
        "Our conversion to qualified lead is fine on our side, yet leads are declined.",
        "The lead report shows many leads pending for weeks.",
        "We changed nothing in our traffic, but lead approval fell by {pct}%.",
        "Can you share which lead fields fail validation?",
    ),
    Category.TRACKING_ATTRIBUTION: (
        "Conversions are not tracking on {campaign} since {when}.",
        "We see {count} clicks in the dashboard but zero conversions.",
        "Sales are being attributed to another partner even though the click came from us.",
        "The postback URL stopped firing after your update.",
        "Our conversion numbers are {pct}% lower than what {network} reports.",
        "The tracking pixel does not load on the confirmation page.",
        "Clicks jumped overnight, which looks like bot traffic on our links.",
        "Conversions appear minutes after the click, which looks wrong to us.",
        "Sub IDs are missing in the conversion report, so we cannot match sales.",
        "The tracking link for {campaign} redirects to an error page.",
        "Our conversions dropped sharply but traffic is the same.",
        "We see the same lead counted twice in the tracking report.",
        "The attribution window seems shorter than the {days} days in our terms.",
    ),
    Category.CAMPAIGN_PERFORMANCE: (
        "The conversion rate on {campaign} dropped by {pct}% this week.",
        "EPC on {campaign} is down and we want to understand why.",
        "We send more traffic than ever, but conversions are flat.",
        "Could you share benchmarks for {campaign} so we can compare?",
        "Our results on {campaign} are below other programs we run.",
        "We would like a performance review of the last {days} days.",
        "Would a higher commission tier be possible given our volume?",
        "The landing page for {campaign} seems to convert worse since the redesign.",
        "Which products convert best for partners like us?",
        "Our clicks are steady but revenue fell by {amount}.",
        "Can you send the campaign report broken down by device?",
        "We want to scale {campaign} but need better conversion first.",
    ),
    Category.CREATIVE_REQUEST: (
        "Could you send new banners for {campaign}?",
        "The creatives in the portal are from last season.",
        "We need an exclusive coupon code for our audience.",
        "Do you have banners in {size} for mobile?",
        "Please share the product feed so we can build comparison pages.",
        "Can we get a custom landing page for {campaign}?",
        "We would like video assets for a sponsored post.",
        "The logo files in the brand kit are low resolution.",
        "Our newsletter goes out on {when} and we need the {month} promo assets.",
        "Could you create a deep link to the new collection?",
        "The promo code from {campaign} no longer works for customers.",
        "Please send text links with the current offer.",
    ),
    Category.ACCOUNT_ACCESS: (
        "I cannot log in to the partner portal.",
        "The password reset email never arrives.",
        "Our account is locked after too many login attempts.",
        "Please add {colleague} as a user on our account.",
        "The two-factor code is rejected every time.",
        "The dashboard keeps loading and never shows our reports.",
        "We lost access to the commission report after the update.",
        "Our API key returns an unauthorised error.",
        "We need to change the owner email of the account.",
        "Single sign-on fails with an error page.",
        "My colleague needs admin rights to manage payouts.",
        "The portal logs me out every few minutes.",
    ),
    Category.COMPLIANCE: (
        "We received a warning about brand bidding on {campaign}.",
        "Is it allowed to promote {campaign} on coupon sites?",
        "What disclosure do influencers need for sponsored posts?",
        "Our account was flagged for a policy violation we do not understand.",
        "Do we need extra consent before sending leads under GDPR?",
        "Can we bid on the brand name in search if we add negative keywords?",
        "We would like to appeal the compliance decision on our account.",
        "Is cashback traffic allowed on {campaign}?",
        "The new terms for our region are unclear about email traffic.",
        "Please confirm that this ad copy follows the program rules.",
        "We were told our commission is on hold for a compliance review.",
        "Are incentivised clicks allowed for this program?",
    ),
}

DETAILS: dict[Category, tuple[str, ...]] = {
    Category.COMMISSION_DISPUTE: (
        "Our agreement was signed in {month} and has not changed since.",
        "Order IDs are in the attached export.",
        "Other networks pay us on the same sales without reversals.",
    ),
    Category.PAYOUT: (
        "Our account number ends in {last4}.",
        "Our accountant needs the remittance by the end of the month.",
        "The payout method in the portal is bank transfer.",
    ),
    Category.LEAD_QUALITY: (
        "Our leads come from opt-in forms with double confirmation.",
        "We can share the form and the traffic sources.",
        "The rejected leads include phone numbers that we verified.",
    ),
    Category.TRACKING_ATTRIBUTION: (
        "We tested the link ourselves and the conversion did not appear.",
        "Our server logs show the postback call returning an error.",
        "Nothing changed on our side of the integration.",
    ),
    Category.CAMPAIGN_PERFORMANCE: (
        "Most of our traffic is mobile and from organic search.",
        "We moved {campaign} to a more prominent placement last week.",
        "Average order value also seems lower.",
    ),
    Category.CREATIVE_REQUEST: (
        "Our site uses a dark theme, so light logos work best.",
        "We have a feature slot reserved for you next week.",
        "Sizes we need: {size} and 300x250.",
    ),
    Category.ACCOUNT_ACCESS: (
        "I tried two different browsers.",
        "The error message says the session expired.",
        "This is the email address we registered with.",
    ),
    Category.COMPLIANCE: (
        "We checked the program terms but did not find an answer.",
        "Our legal team asked us to confirm in writing.",
        "The posts in question are linked below.",
    ),
}

# Sentences any category may use; they carry the shared vocabulary.
SHARED_DETAILS: tuple[str, ...] = (
    "We have been a partner for {years} years and never had this problem.",
    "Our dashboard and the commission report show different numbers.",
    "The conversion report for {month} is attached.",
    "We track every click with our own tracking system as well.",
    "This affects our leads and our payout for the month.",
    "Traffic is mostly from our newsletter and our blog.",
    "Our account manager is out of office, so I am writing here.",
    "The same thing happened on {when} and it was fixed then.",
    "We send around {count} clicks a day to your offers.",
    "Could you check this in your reports?",
    "Screenshots are attached.",
    "We have paused some promotion until this is clear.",
    "This concerns {campaign}.",
    "Happy to jump on a call if that helps.",
    "Our finance team is asking about it.",
    "The numbers in the API export match the dashboard.",
)

ASKS: dict[Category, tuple[str, ...]] = {
    Category.COMMISSION_DISPUTE: (
        "Please review the reversals and correct the commission.",
        "Can you confirm the commission rate we should be on?",
        "We ask that the declined conversions be reinstated.",
    ),
    Category.PAYOUT: (
        "Please tell us when the payout will be sent.",
        "Can you resend the payment?",
        "Please confirm the payout date.",
    ),
    Category.LEAD_QUALITY: (
        "Please share the rejection reasons per lead.",
        "Can you review the leads with the advertiser?",
        "What do we need to change to get the leads approved?",
    ),
    Category.TRACKING_ATTRIBUTION: (
        "Please check the tracking setup on your side.",
        "Can you look at the attribution for these conversions?",
        "Please fix the postback so conversions are recorded.",
    ),
    Category.CAMPAIGN_PERFORMANCE: (
        "Any advice on how to improve the conversion rate?",
        "Please send the performance report.",
        "Can we discuss the numbers this week?",
    ),
    Category.CREATIVE_REQUEST: (
        "Please send the assets when you can.",
        "Could you upload them to the portal?",
        "Let us know if you can make a custom version.",
    ),
    Category.ACCOUNT_ACCESS: (
        "Please restore our access.",
        "Can you reset the login for us?",
        "Please unlock the account.",
    ),
    Category.COMPLIANCE: (
        "Please confirm what is allowed.",
        "Can you send us the exact policy?",
        "Please review the flag on our account.",
    ),
}

GREETINGS = ("Hi,", "Hello,", "Hi team,", "Hello support,", "Dear partner team,", "Hey,")
OPENERS = (
    "I am writing about {campaign}.",
    "Quick question from {partner}.",
    "We noticed a problem this week.",
    "Following up on our last message.",
    "Hope you are well.",
)
CLOSERS = (
    "Thanks in advance.",
    "Thank you for your help.",
    "Looking forward to your reply.",
    "Let me know if you need anything else.",
    "Thanks!",
)
SIGNOFFS = ("Best regards,", "Kind regards,", "Thanks,", "Cheers,", "Best,")
ALSO_PREFIXES = ("Also, ", "Separately, ", "On another note, ", "One more thing: ")

# Cue phrases tie the text to the urgency the partner feels, whether declared or not.
URGENCY_SENTENCES: dict[Urgency, tuple[str, ...]] = {
    Urgency.URGENT: (
        "This is urgent.",
        "This is blocking our launch, please fix asap.",
        "We need this resolved today.",
        "URGENT: we are losing sales every hour.",
        "This is blocking all our campaigns.",
        "Please treat this as urgent, it is critical for us.",
    ),
    Urgency.HIGH: (
        "Could you look at this today?",
        "As soon as possible please.",
        "This is time-sensitive for us.",
        "We would appreciate a quick answer.",
        "Please get back to us today if you can.",
    ),
    Urgency.LOW: (
        "No rush on this.",
        "Whenever you get a chance.",
        "Not urgent, just want to understand.",
        "This can wait until next week.",
    ),
}
URGENT_SUBJECT_PREFIXES = ("URGENT: ", "[ASAP] ", "Urgent - ", "Blocking: ")

_NETWORKS = ("our network", "our own tracker", "the advertiser", "Google Analytics", "our SDK")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WHEN = (
    "Monday",
    "Tuesday",
    "last Wednesday",
    "last Thursday",
    "Friday",
    "the weekend",
    "yesterday",
    "last week",
    "the 3rd",
    "the 15th",
)
_SIZES = ("728x90", "320x50", "160x600", "1080x1080", "300x600")
_COLLEAGUES = ("my colleague Sam", "our new analyst", "Priya from our team", "our CFO")
_TYPO_RATE = 0.03
_LOG_NO_TYPO = math.log(1.0 - _TYPO_RATE)
_ONE_LINER_SHARE = 0.15
_MIXED_TOPIC_SHARE = 0.08


def write_ticket_text(facts: TicketFacts, rand: random.Random) -> tuple[str, str]:
    """Return a subject and body for one ticket, varied in wording, length and typos."""
    fills = _Fills(facts, rand)
    subject = _upper_first(rand.choice(SUBJECTS[facts.category]).format_map(fills))
    if facts.urgency_cue is Urgency.URGENT and rand.random() < 0.5:
        subject = rand.choice(URGENT_SUBJECT_PREFIXES) + subject

    sentences = _body_sentences(facts, rand)
    body = "\n\n".join(_paragraphs([s.format_map(fills) for s in sentences], rand))
    if facts.channel == "email" or (facts.channel == "portal" and rand.random() < 0.3):
        body = f"{rand.choice(GREETINGS)}\n\n{body}"
        if len(sentences) > 1:
            body = f"{body}\n\n{rand.choice(SIGNOFFS)}\n{facts.partner_name}"
    return _with_typos(subject, rand), _with_typos(body, rand)


def _body_sentences(facts: TicketFacts, rand: random.Random) -> list[str]:
    category = facts.category
    sentences = [rand.choice(PROBLEMS[category])]
    if rand.random() >= _ONE_LINER_SHARE and facts.channel != "api":
        # Long tail of lengths: most tickets are a few sentences, some run to paragraphs.
        extra = min(int(rand.expovariate(0.45)), 9)
        if rand.random() < 0.3:
            sentences.insert(0, rand.choice(OPENERS))
        if extra > 3:
            sentences.append(rand.choice(PROBLEMS[category]))
        pool = DETAILS[category] + SHARED_DETAILS
        sentences.extend(rand.sample(pool, min(extra, len(pool))))
        if rand.random() < _MIXED_TOPIC_SHARE:
            other = rand.choice([c for c in Category if c is not category])
            sentences.append(
                rand.choice(ALSO_PREFIXES) + _lower_first(rand.choice(PROBLEMS[other]))
            )
        if rand.random() < 0.7:
            sentences.append(rand.choice(ASKS[category]))
        if rand.random() < 0.5:
            sentences.append(rand.choice(CLOSERS))
    cues = URGENCY_SENTENCES.get(facts.urgency_cue) if facts.urgency_cue else None
    if cues:
        cue = rand.choice(cues)
        sentences.insert(0 if rand.random() < 0.4 else len(sentences), cue)
    # Removing duplicates keeps a long ticket from repeating the same sentence.
    return list(dict.fromkeys(sentences))


def _paragraphs(sentences: Sequence[str], rand: random.Random) -> list[str]:
    paragraphs: list[list[str]] = [[]]
    for sentence in sentences:
        if len(paragraphs[-1]) >= 2 and rand.random() < 0.4:
            paragraphs.append([])
        paragraphs[-1].append(sentence)
    return [" ".join(p) for p in paragraphs]


class _Fills(dict[str, str]):
    """Placeholder values drawn on first use, so a ticket only pays for what its text names."""

    def __init__(self, facts: TicketFacts, rand: random.Random) -> None:
        campaign = facts.campaign_name
        super().__init__(
            partner=facts.partner_name,
            campaign=f"the {campaign} campaign" if campaign else "our campaign",
        )
        self._rand = rand

    def __missing__(self, key: str) -> str:
        rand = self._rand
        draws: dict[str, Callable[[], str]] = {
            "amount": lambda: f"${rand.lognormvariate(6.5, 1.2):,.2f}",
            "count": lambda: str(int(rand.lognormvariate(3.5, 1.0)) + 2),
            "pct": lambda: str(rand.randint(8, 70)),
            "rate": lambda: str(rand.choice((4, 5, 6, 8, 10, 12, 15, 20))),
            "rate2": lambda: str(int(self["rate"]) + rand.choice((1, 2, 3, 5))),
            "days": lambda: str(rand.choice((7, 14, 30, 45, 60, 90))),
            "years": lambda: str(rand.randint(2, 9)),
            "month": lambda: rand.choice(_MONTHS),
            "when": lambda: rand.choice(_WHEN),
            "network": lambda: rand.choice(_NETWORKS),
            "invoice": lambda: f"INV-{rand.randint(10000, 99999)}",
            "last4": lambda: f"{rand.randint(0, 9999):04d}",
            "size": lambda: rand.choice(_SIZES),
            "colleague": lambda: rand.choice(_COLLEAGUES),
        }
        value = self[key] = draws[key]()
        return value


def _with_typos(text: str, rand: random.Random) -> str:
    # Typos hit letters only, so numbers, amounts and ids stay readable.
    words = text.split(" ")
    i = _words_before_typo(rand)
    if i >= len(words):
        return text
    while i < len(words):
        word = words[i]
        core = word.rstrip(".,?!:;")
        if len(core) >= 4 and core.isalpha():
            words[i] = _typo(core, rand) + word[len(core) :]
        i += 1 + _words_before_typo(rand)
    return " ".join(words)


def _words_before_typo(rand: random.Random) -> int:
    # A geometric gap gives each word the same typo chance with one draw per typo, not per word.
    return int(math.log(1.0 - rand.random()) / _LOG_NO_TYPO)


def _typo(word: str, rand: random.Random) -> str:
    at = rand.randrange(1, len(word) - 1)
    if rand.random() < 0.5:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return word[:at] + word[at + 1 :]


def _lower_first(sentence: str) -> str:
    # Leave "I ..." and acronyms such as "EPC" alone.
    if sentence.startswith("I ") or sentence[1:2].isupper():
        return sentence
    return sentence[:1].lower() + sentence[1:]


def _upper_first(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]
