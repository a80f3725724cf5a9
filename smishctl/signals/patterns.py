"""What a message asks for and how it presses: phone numbers and short codes, money, deadlines and
urgency, requests for codes, PINs or card data, and the "do not share this code" wording of a
genuine one-time code. Plain regular expressions, English wording (the language of the datasets)."""

from __future__ import annotations

import re

_I = re.IGNORECASE

PHONE_RE = re.compile(r"(?<![\w+*#$£€₹.,/])\+?\(?\d[\d\s().-]{5,18}\d(?![\w#*/]|[.,]\d)")
SHORT_CODE_RE = re.compile(r"\b(?:to|text|txt|sms|dial|call|ring)\s+(\d{3,6})(?![\d\w])|(\*\d{2,4}(?:\*\d{1,4})*#)", _I)
OTP_RE = re.compile(r"\b(?:code|otp|pin|passcode)\b(?:\s+is)?\s*:?\s*(\d{4,8})\b|\b(\d{4,8})\s+is\s+your\b", _I)
_AMOUNT = r"(?:\d{1,3}(?:,\d{2,3})+|\d+)(?:\.\d{1,2})?(?:\s?(?:k|m|million|bn|lakh|crore)\b)?"
MONEY_RE = re.compile(
    rf"(?:[$£€₹¥₦₱]|\b(?:rs\.?|inr|usd|eur|gbp|aud|cad|ngn|php|kes|zar|us\$|a\$|c\$)\s?|\bN(?=\d))\s?{_AMOUNT}"
    rf"|\b{_AMOUNT}\s?(?:usd|eur|gbp|aud|dollars?|pounds?|euros?|rupees?|naira|pesos?)\b", _I)
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
DEADLINE_RE = re.compile(
    rf"\b(?:within|in|next)\s+\d+\s*(?:h|hrs?|hours?|days?|minutes?|mins?)\b"
    rf"|\b\d+\s*(?:h|hrs?|hours?)\b(?=[^.\n]{{0,20}}\b(?:or|before|left|only)\b)"
    rf"|\b(?:by|before|until|due|on or before)\s+(?:\d{{1,2}}[/.-]\d{{1,2}}(?:[/.-]\d{{2,4}})?|\d{{1,2}}(?::\d{{2}})?\s?(?:am|pm)"
    rf"|midnight|today|tonight|tomorrow|end of (?:the )?day|{_DAY})\b"
    rf"|\b(?:expires?|expiring|ends?)\s+(?:today|tonight|tomorrow|soon|{_DAY}|at midnight)\b"
    rf"|\b(?:last (?:chance|day|reminder|warning)|final (?:notice|reminder|warning|attempt)|due date)\b", _I)
URGENCY_RE = re.compile(
    r"\b(?:urgent(?:ly)?|immediately|asap|right away|act now|action required|attention required"
    r"|(?:will be|has been|have been|is|was)\s+(?:suspended|locked|blocked|disabled|deactivated|restricted|frozen"
    r"|terminated|closed|cancell?ed|disconnected|cut off|seized)"
    r"|avoid (?:a |an |the |further )?(?:\$?\d+ )?(?:\w+ )?(?:fee|fine|penalty|penalties|suspension|charges?|hold)"
    r"|unpaid|overdue|outstanding (?:balance|payment|toll|fee)|unusual activity|suspicious activity)\b", _I)
_NEGATED = re.compile(r"\b(?:not|never|no one|nobody|n't|won't|will not)\b[^.!?\n]{0,20}$", _I)
_VERB = r"(?:send|share|reply(?:\s+with)?|text|tell|give|forward|confirm|enter|provide|verify|update|submit|read out)"
CODE_REQUEST_RE = re.compile(
    rf"\b{_VERB}\b[^.!?\n]{{0,40}}?\b(?:code|otp|one[- ]time (?:pass(?:word|code)|code)|pin|passcode|password"
    rf"|verification code|security code|login details|credentials)\b", _I)
CARD_REQUEST_RE = re.compile(
    rf"\b{_VERB}\b[^.!?\n]{{0,40}}?\b(?:card (?:number|details|info(?:rmation)?)|cvv|cvc|expiry date"
    rf"|bank(?:ing)? details|account (?:number|details)|sort code|direct deposit details|payment (?:details|info)"
    rf"|billing (?:details|info(?:rmation)?)|ssn|social security number|aadhaar|pan (?:number|card))\b", _I)
DO_NOT_SHARE_RE = re.compile(
    r"\b(?:do not|don't|dont|never|not to)\s+(?:share|give|tell|disclose|forward|send)\b[^.!?\n]{0,30}?"
    r"\b(?:code|otp|pin|password|passcode|it|this)\b"
    r"|\b(?:will|would)\s+never\s+(?:ask|call|text|message)\b[^.!?\n]{0,40}?"
    r"\b(?:code|otp|pin|password|passcode|bank details|card details)\b"
    r"|\bwe will not ask for your\b[^.!?\n]{0,30}", _I)


def negated(text: str, start: int) -> bool:
    """Whether the words just before `start` deny it ("we will never ask you to share your code")."""
    return bool(_NEGATED.search(text[max(0, start - 40):start]))


def phone_digits(s: str) -> int:
    return sum(ch.isdigit() for ch in s)
