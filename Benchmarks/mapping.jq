# The crm-customer-import mapping (Mappings/crm-customer-import.yaml) written in jq, for the benchmark.
def trim: gsub("^\\s+|\\s+$"; "");
def cap: ascii_downcase | (.[0:1] | ascii_upcase) + .[1:];
def particle: IN("van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "la", "le", "ter", "ten", "te", "dos", "das", "do", "y", "zu", "af", "av");
def mc: if test("^Mc[a-z]") then .[0:2] + (.[2:3] | ascii_upcase) + .[3:] else . end;
def word: split("-") | map(split("'") | map(cap) | join("'")) | join("-") | mc;
def name: if . == null then null else trim | [splits(" +")] | map(select(. != "")) | . as $w
  | [range(0; length) as $i | $w[$i] | if $i > 0 and $i < ($w | length) - 1 and (ascii_downcase | particle) then ascii_downcase else word end]
  | join(" ") end;
def email: trim | ascii_downcase
  | if test("^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9-]+(\\.[a-z0-9-]+)+$") then . else error("bad email") end;
def phone: gsub("[ ().-]"; "")
  | if startswith("+") then . elif startswith("00") then "+" + .[2:] elif startswith("0") then "+44" + .[1:] else error("bad phone") end
  | if (length >= 12 and length <= 13) then . else error("bad phone length") end;
def dec2: tostring | split(".") as $p | $p[0] + "." + ((($p[1] // "") + "00")[0:2]);
def ts: . as $s
  | (if $s[19:20] == "-" then -1 else 1 end) as $sign
  | (($s[0:19] + "Z") | fromdateiso8601) - $sign * (($s[20:22] | tonumber) * 3600 + ($s[23:25] | tonumber) * 60)
  | todate;
select(.status != "X")
| {
    id: ("crm:" + (.id | tostring)),
    kind: (if .company then "organisation" else "person" end),
    givenName: (.first_name | name),
    familyName: (.last_name | name),
    displayName: (if .company then (.company | trim) else ([.first_name, .last_name] | map(name) | join(" ")) end),
    organisationName: (if .company then (.company | trim) else null end),
    emails: (if .email then [.email | email] else null end),
    phones: (if .phone then [.phone | phone] else null end),
    status: ({"A": "active", "I": "inactive", "P": "prospect"}[.status] // error("status")),
    tier: ((.tier // "standard") | trim | ascii_downcase),
    address: {
      line1: (.address.street | trim),
      city: (.address.city | name),
      postalCode: (.address.zip | tostring | trim | ascii_upcase),
      country: ((.address.country // "GB") | trim | ascii_upcase)
    },
    tags: ((.tags // []) | map(trim | ascii_downcase)),
    consent: {email: (.marketing.email // false), sms: (.marketing.sms // false)},
    lifetimeValue: (.lifetime_value | dec2),
    language: (.locale | ascii_downcase | .[0:2]),
    createdAt: (.created_at | ts),
    externalIds: {crm: (.id | tostring)},
    origin: "crm"
  }
| with_entries(select(.value != null))
