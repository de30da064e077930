"""The values the finance tests share: the finance token, two authorities and a party."""

TOKEN = "finans-token-til-test"
CVR = "29189846"
OTHER_CVR = "55133018"
PART = "urn:oio:cpr-nr:0101801234"
