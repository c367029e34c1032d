"""The languages of the HTML pages (the callback form, the admin pages): which one a
request gets, and the words in each.

A message is written in English in the template or the code (`_("Call me back")`); the
English text is its key in the catalog of every other language, gettext's way, without
gettext's files: the catalog is a dict here, small enough to read, and a test checks that
every message of every template and every message the code declares has its Ukrainian.
A message with `%(name)s` placeholders is formatted after translation; the result is plain
text, escaped by the template like any other value (translations hold no HTML).

Which language: `?lang=` when it names one we have (the switch link on every page), else
the one remembered in the `pbx_lang` cookie (the admin pages set it when the switch is
used), else the best of the browser's Accept-Language we have (q-values honoured), else
`http.language`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Literal, get_args

from aiohttp import hdrs, web

Language = Literal["uk", "en"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
SOURCE_LANGUAGE: Final[Language] = "en"
"""The language messages are written in: it needs no catalog."""

NAMES: Final[Mapping[Language, str]] = {"uk": "Українська", "en": "English"}
"""Each language in its own words, for the switch link."""

MAX_RANGES = 32
"""Accept-Language entries read; the rest of an absurdly long header is ignored."""

Translate = Callable[..., str]
"""`_(message, **values)`: the message in the page's language, `%(name)s` filled in."""


UK: Final[Mapping[str, str]] = {
    # the page around every form
    "Language": "Мова",
    # the callback form
    "Call me back": "Передзвоніть мені",
    "Leave your number and we will call you back.": "Залиште свій номер, і ми вам передзвонимо.",
    "Phone number": "Номер телефону",
    "For example 050 123 45 67": "Наприклад, 050 123 45 67",
    "Your name": "Ваше імʼя",
    "optional": "необовʼязково",
    "Comment": "Коментар",
    "What is it about?": "Щодо чого дзвінок?",
    "Leave this field empty": "Залиште це поле порожнім",
    "Request a call": "Замовити дзвінок",
    # answers
    "Thank you!": "Дякуємо!",
    "We will call you back at %(number)s shortly.": (
        "Ми невдовзі передзвонимо вам на номер %(number)s."
    ),
    "We already have your request and will call %(number)s soon.": (
        "Ваш запит уже прийнято: ми невдовзі зателефонуємо на номер %(number)s."
    ),
    "Request another call": "Замовити ще один дзвінок",
    "Please enter your phone number.": "Будь ласка, вкажіть номер телефону.",
    "%(number)s is not a phone number we can call. Please check it.": (
        "%(number)s — не номер телефону, на який ми можемо подзвонити. Перевірте його, будь ласка."
    ),
    "Too many requests from your network. Please try again later.": (
        "Забагато запитів з вашої мережі. Спробуйте, будь ласка, пізніше."
    ),
    "Too many requests for this number today. Please try again tomorrow or call us.": (
        "Сьогодні для цього номера вже забагато запитів. Спробуйте завтра або зателефонуйте нам."
    ),
    "We cannot call this number back. Please call us.": (
        "Ми не можемо передзвонити на цей номер. Зателефонуйте нам, будь ласка."
    ),
    "Callback requests are not taken at the moment. Please call us.": (
        "Зараз ми не приймаємо запити на дзвінок. Зателефонуйте нам, будь ласка."
    ),
    "Your request was not sent": "Запит не надіслано",
    # the admin pages (web/admin/, templates/admin/)
    "Staff pages": "Сторінки персоналу",
    "Sections": "Розділи",
    "Log in": "Увійти",
    "Log out": "Вийти",
    "User name": "Імʼя користувача",
    "Password": "Пароль",
    "Wrong user name or password.": "Неправильне імʼя користувача або пароль.",
    "Too many login attempts. Please try again in %(minutes)s min.": (
        "Забагато спроб входу. Спробуйте, будь ласка, через %(minutes)s хв."
    ),
    "admin": "адміністратор",
    "operator": "оператор",
    "active": "активний",
    "disabled": "вимкнений",
    "Pages": "Сторінки",
    "Previous": "Попередня",
    "Next": "Наступна",
    "Page %(page)s": "Сторінка %(page)s",
    "Name": "Назва",
    "Role": "Роль",
    "State": "Стан",
    "Last login": "Останній вхід",
    "Save": "Зберегти",
    "Add": "Додати",
    "Create": "Створити",
    "Disable": "Вимкнути",
    "Enable": "Увімкнути",
    "Revoke": "Відкликати",
    "Created": "Створено",
    "Last used": "Останнє використання",
    "Revoked": "Відкликано",
    "Scopes": "Дозволи",
    "Scopes (none ticked: every scope)": "Дозволи (нічого не позначено: усі)",
    "New password": "Новий пароль",
    "New password for %(name)s": "Новий пароль для %(name)s",
    "Set password": "Змінити пароль",
    "at least %(count)s characters": "щонайменше %(count)s символів",
    "Staff accounts": "Облікові записи персоналу",
    "Who may log in here, with which role; passwords and disabling.": (
        "Хто може тут входити і з якою роллю; паролі та вимкнення."
    ),
    "Add a staff account": "Додати обліковий запис",
    "API tokens": "Токени API",
    "Bearer tokens of the REST API: create, revoke.": (
        "Токени доступу до REST API: створити, відкликати."
    ),
    "Create a token": "Створити токен",
    "Token %(name)s created. Copy it now: it is not shown again.": (
        "Токен %(name)s створено. Скопіюйте його зараз: більше його не буде показано."
    ),
    "User %(name)s added.": "Користувача %(name)s додано.",
    "Password of %(name)s changed.": "Пароль %(name)s змінено.",
    "%(name)s is now %(role)s.": "%(name)s тепер має роль %(role)s.",
    "%(name)s is disabled.": "%(name)s вимкнено.",
    "%(name)s is enabled.": "%(name)s увімкнено.",
    "%(name)s is the last active admin: make another admin first.": (
        "%(name)s — останній активний адміністратор: спершу призначте іншого."
    ),
    "Choose a role.": "Оберіть роль.",
    "Token %(name)s revoked.": "Токен %(name)s відкликано.",
    "Unknown scope.": "Невідомий дозвіл.",
    # the status page (web/admin/status.py)
    "Status": "Стан",
    "The AMI link, billing, FastAGI, the spool, Telegram and jobs, as /healthz sees them.": (
        "Звʼязок з AMI, білінг, FastAGI, спул, Telegram і завдання, як їх бачить /healthz."
    ),
    "The same facts as /healthz; this page reloads every %(seconds)s s.": (
        "Ті самі дані, що й /healthz; сторінка оновлюється кожні %(seconds)s с."
    ),
    "Billing backend: %(backend)s.": "Білінг: %(backend)s.",
    "Part": "Частина",
    "Details": "Подробиці",
    "critical": "критична",
    "Counters": "Лічильники",
    "ok": "працює",
    "degraded": "з обмеженнями",
    "down": "не працює",
    "Database": "База даних",
    "Billing backend": "Білінг",
    "FastAGI": "FastAGI",
    "AMI link": "Звʼязок з AMI",
    "Call-file spool": "Спул call-файлів",
    "Telegram": "Telegram",
    "Scheduled jobs": "Завдання за розкладом",
    "SMS": "SMS",
    "Missed calls": "Пропущені дзвінки",
    "Callback form": "Форма зворотного дзвінка",
    # campaigns (web/admin/campaigns.py, templates/admin/campaign*.html)
    "Campaigns": "Кампанії",
    "Call-out campaigns: numbers, weekly schedule, message, progress and reports.": (
        "Кампанії обдзвону: номери, розклад на тиждень, повідомлення, перебіг і звіти."
    ),
    "New campaign": "Нова кампанія",
    "No campaigns yet.": "Кампаній ще немає.",
    "Progress": "Перебіг",
    "Numbers": "Номери",
    "Answered": "Відповіли",
    "Given up": "Без відповіді",
    "Waiting": "Чекають",
    "First page": "Перша сторінка",
    "Campaign created. Add its numbers and its message.": (
        "Кампанію створено. Додайте номери та повідомлення."
    ),
    "Settings saved.": "Налаштування збережено.",
    "Campaign started.": "Кампанію запущено.",
    "Campaign paused.": "Кампанію призупинено.",
    "Message uploaded (%(seconds)s s).": "Повідомлення завантажено (%(seconds)s с).",
    "%(number)s removed.": "%(number)s вилучено.",
    "%(number)s is being called now: remove it once the call has ended.": (
        "На %(number)s зараз телефонують: вилучіть його, коли дзвінок завершиться."
    ),
    "%(number)s is not in this campaign.": "%(number)s немає в цій кампанії.",
    "Numbers: %(added)s added, %(updated)s updated, %(skipped)s skipped.": (
        "Номери: додано %(added)s, оновлено %(updated)s, пропущено %(skipped)s."
    ),
    "Paste numbers or choose a file.": "Вставте номери або оберіть файл.",
    "The numbers could not be read: %(problem)s": "Не вдалося прочитати номери: %(problem)s",
    "idle": "не запущена",
    "running": "триває",
    "paused": "призупинена",
    "done": "завершена",
    "pending": "в черзі",
    "calling": "дзвінок",
    "answered": "відповів",
    "given up": "без відповіді",
    "do not call": "не дзвонити",
    "Monday": "Понеділок",
    "Tuesday": "Вівторок",
    "Wednesday": "Середа",
    "Thursday": "Четвер",
    "Friday": "Пʼятниця",
    "Saturday": "Субота",
    "Sunday": "Неділя",
    "letters, digits, _ . -": "літери, цифри, _ . -",
    "Weekly schedule: start time per day (empty: no run that day)": (
        "Розклад на тиждень: час початку для кожного дня (порожньо: того дня не запускати)"
    ),
    "Time window": "Години дзвінків",
    "HH:MM-HH:MM; empty: any time": "ГГ:ХХ-ГГ:ХХ; порожньо: будь-коли",
    "Pacing": "Темп",
    "Calls per bundle (0: no bundles)": "Дзвінків у пачці (0: без пачок)",
    "Pause between bundles, s": "Пауза між пачками, с",
    "Calls at once": "Дзвінків одночасно",
    "New calls per second": "Нових дзвінків за секунду",
    "Dialplan context": "Контекст діалплану",
    "Extension (a number's own wins)": "Extension (власний extension номера важливіший)",
    "CallerID": "CallerID",
    "Attempts per number": "Спроб на номер",
    "Start": "Запустити",
    "Pause": "Призупинити",
    "Export CSV": "Експорт CSV",
    "Message": "Повідомлення",
    "No message yet: calls cannot play anything.": (
        "Повідомлення ще немає: дзвінкам нічого відтворювати."
    ),
    "Upload a message (mp3, wav, ogg, m4a …)": "Завантажте повідомлення (mp3, wav, ogg, m4a …)",
    "Upload": "Завантажити",
    "Paste numbers: one per line, optionally with ,extension; or CSV/JSON as the CLI imports": (
        "Вставте номери: по одному в рядку, можна з ,extension; або CSV/JSON, як їх імпортує CLI"
    ),
    "or choose a CSV/JSON file": "або оберіть файл CSV/JSON",
    "Add numbers": "Додати номери",
    "Show": "Показати",
    "all": "усі",
    "Number": "Номер",
    "Extension": "Extension",
    "Attempts": "Спроби",
    "Last outcome": "Останній результат",
    "Reason": "Причина",
    "Pressed": "Натиснуто",
    "Last call": "Останній дзвінок",
    "Remove %(number)s": "Вилучити %(number)s",
    "%(done)s of %(total)s numbers done": "Опрацьовано %(done)s з %(total)s номерів",
    "Settings": "Налаштування",
    # admin pages, parts 3 and 4: missed calls, callbacks (web/admin/missed.py, callbacks.py)
    "Today's and past missed calls, recalled or not; call back in one click; per-day chart.": (
        "Пропущені дзвінки сьогодні й раніше, передзвонили чи ні; передзвонити одним кліком; "
        "графік за днями."
    ),
    "The callback queue and what became of each call; request and cancel.": (
        "Черга зворотних дзвінків і чим закінчився кожен; замовити й скасувати."
    ),
    "Callbacks": "Зворотні дзвінки",
    "Request a callback": "Замовити зворотний дзвінок",
    "Filter callbacks": "Відбір зворотних дзвінків",
    "Filter missed calls": "Відбір пропущених дзвінків",
    "Callback requested: it is in the queue below.": (
        "Зворотний дзвінок замовлено: він у черзі нижче."
    ),
    "The callback was refused; the list below says why.": (
        "У зворотному дзвінку відмовлено; чому — видно у списку нижче."
    ),
    "Callbacks are off (callback.enabled = false).": (
        "Зворотні дзвінки вимкнено (callback.enabled = false)."
    ),
    "That is not a phone number.": "Це не номер телефону.",
    "Callback cancelled.": "Зворотний дзвінок скасовано.",
    "Nothing to cancel: it was refused, cancelled already, or its call is over.": (
        "Нічого скасовувати: у ньому відмовлено, його вже скасовано або дзвінок завершено."
    ),
    "There is no such callback.": "Такого зворотного дзвінка немає.",
    "This filter cannot be used: %(fields)s.": "Цей відбір не можна застосувати: %(fields)s.",
    "Call back": "Передзвонити",
    "Cancel": "Скасувати",
    "Day": "День",
    "Days shown": "Показані дні",
    "%(days)s days": "%(days)s дн.",
    "From": "З",
    "To": "По",
    "History": "Історія",
    "Today": "Сьогодні",
    "Missed and recalled calls per day, and the average time to recall": (
        "Пропущені й передзвонені дзвінки за днями та середній час до передзвону"
    ),
    "Missed: %(missed)s, recalled: %(recalled)s.": (
        "Пропущено: %(missed)s, передзвонили: %(recalled)s."
    ),
    "Nothing here.": "Тут нічого немає.",
    "Per day": "За днями",
    "Queue": "Черга",
    "Recalled": "Передзвонили",
    "Requested": "Замовлено",
    "Source": "Джерело",
    "Subscriber": "Абонент",
    "Time": "Час",
    "Waited": "Очікував",
    "after %(time)s": "через %(time)s",
    "from %(ip)s": "з %(ip)s",
    "not before %(time)s": "не раніше %(time)s",
    "any": "будь-який",
    "refused": "відмовлено",
    "cancelled": "скасовано",
    "failed recalls": "невдалі передзвони",
    "min": "хв",
    "missed": "пропущено",
    "recalled": "передзвонили",
    "not recalled": "не передзвонили",
    "numbers": "номерів",
    "still open": "ще відкриті",
    "time to recall": "час до передзвону",
    "time to recall (average, minutes)": "час до передзвону (середній, хвилини)",
    "not looked up yet": "ще не перевірено",
    "unknown": "невідомий",
    "yes": "так",
    "no": "ні",
    # admin pages, part 4: SMS and the call log (web/admin/sms.py, calls.py)
    "Inbox and outbox with their states; send a message.": (
        "Вхідні й вихідні з їхніми станами; надіслати повідомлення."
    ),
    "Every call: search by number and date, direction and outcome, recordings.": (
        "Усі дзвінки: пошук за номером і датою, напрямком і результатом, записи."
    ),
    "%(count)s parts missing": "бракує частин: %(count)s",
    "%(length)s characters (%(encoding)s), %(parts)s SMS": (
        "%(length)s символів (%(encoding)s), SMS: %(parts)s"
    ),
    "Boxes": "Скриньки",
    "Call log": "Журнал дзвінків",
    "Count": "Порахувати",
    "Direction": "Напрямок",
    "Filter messages": "Відбір повідомлень",
    "Inbox": "Вхідні",
    "Outbox": "Вихідні",
    "Message queued: the outbox below shows its state.": (
        "Повідомлення в черзі: його стан видно у вихідних нижче."
    ),
    "The message was not queued: %(problem)s": "Повідомлення не поставлено в чергу: %(problem)s",
    "Modem": "Модем",
    "Outcome": "Результат",
    "Queued": "У черзі з",
    "Received": "Отримано",
    "Recording": "Запис",
    "Search the call log": "Пошук у журналі дзвінків",
    "Send": "Надіслати",
    "Send an SMS": "Надіслати SMS",
    "Sender": "Відправник",
    "Sent by": "Хто надіслав",
    "Talked": "Розмова",
    "Text": "Текст",
    "part %(part)s of %(count)s": "частина %(part)s з %(count)s",
    "busy": "зайнято",
    "delivered": "доставлено",
    "failed": "не вдалося",
    "incoming": "вхідний",
    "internal": "внутрішній",
    "outgoing": "вихідний",
    "no answer": "без відповіді",
    "queued": "у черзі",
    "sending": "надсилається",
    "sent": "надіслано",
    # admin pages, part 4: subscribers (web/admin/subscribers.py)
    "Look up by number or login; with the embedded billing: edit, freeze, payments.": (
        "Пошук за номером чи логіном; із вбудованим білінгом: зміни, заморожування, платежі."
    ),
    "%(amount)s is more than billing.max_payment (%(limit)s); nothing was booked. "
    "If the amount is right, tick the confirmation and book it again.": (
        "%(amount)s більше за billing.max_payment (%(limit)s); нічого не зараховано. "
        "Якщо сума правильна, позначте підтвердження й зарахуйте ще раз."
    ),
    "Amount": "Сума",
    "Balance": "Баланс",
    "Book the payment": "Зарахувати платіж",
    "Credit": "Кредит",
    "Days left": "Залишилось днів",
    "Edit": "Змінити",
    "Find": "Знайти",
    "Freeze": "Заморозити",
    "Unfreeze": "Розморозити",
    "Frozen.": "Заморожено.",
    "Unfrozen.": "Розморожено.",
    "Monthly fee": "Абонплата",
    "More than %(limit)s: I confirm the amount": "Понад %(limit)s: підтверджую суму",
    "No subscriber has this number or login.": "Немає абонента з таким номером чи логіном.",
    "Not saved: %(problem)s": "Не збережено: %(problem)s",
    "Note": "Примітка",
    "Payment": "Платіж",
    "Payment booked.": "Платіж зараховано.",
    "Phone number or login": "Номер телефону або логін",
    "Phones": "Телефони",
    "Saved.": "Збережено.",
    "Subscribers": "Абоненти",
    "Tariff": "Тариф",
    "The billing does not answer: this is its last answer.": (
        "Білінг не відповідає: це його остання відповідь."
    ),
    "The billing does not answer; try again later.": "Білінг не відповідає; спробуйте пізніше.",
    "negative to correct a mistake": "відʼємна, щоб виправити помилку",
    "one a line": "по одному в рядку",
    "until %(day)s": "до %(day)s",
    # the live feed beside every admin page (web/templates/feed.html)
    "Live feed": "Події наживо",
    "connecting…": "зʼєднання…",
    "live": "наживо",
    "offline, reconnecting": "немає звʼязку, зʼєднуюся знову",
    "Incoming call": "Вхідний дзвінок",
    "Missed call": "Пропущений дзвінок",
    "SMS from": "SMS від",
    "Campaign": "Кампанія",
    "Alert:": "Тривога:",
    "Last payments": "Останні платежі",
    "Not a subscriber": "Не абонент",
    "The billing did not answer": "Білінг не відповів",
    "debtor": "боржник",
    "frozen": "заморожений",
}

CATALOGS: Final[Mapping[Language, Mapping[str, str]]] = {"uk": UK, "en": {}}


def translator(language: Language) -> Translate:
    """`_` for one language. A message missing from the catalog stays in English (the
    catalog test catches that before a release, the visitor still reads something)."""
    catalog = CATALOGS[language]

    def translate(message: str, /, **values: object) -> str:
        text = catalog.get(message, message)
        return text % values if values else text

    return translate


def _quality(params: str) -> float | None:
    """The q of `;q=0.8` (1 when absent); None when it is not a number from 0 to 1."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() != "q":
            continue
        try:
            q = float(value.strip())
        except ValueError:
            return None
        return q if 0 <= q <= 1 else None
    return 1.0


def negotiate(header: str | None) -> Language | None:
    """The language of ours the browser prefers most (`uk-UA,uk;q=0.9,en;q=0.8` → uk),
    None when it accepts none of them. Only the primary tag counts: en-GB is en."""
    if not header:
        return None
    best: Language | None = None
    best_q = 0.0
    for entry in header.split(",")[:MAX_RANGES]:
        tag, _, params = entry.partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        q = _quality(params)
        if q is None or q <= best_q:
            continue  # equal q: the earlier entry stays, as the browser listed them
        for language in LANGUAGES:
            if primary == language:
                best, best_q = language, q
    return best


def as_language(value: str | None) -> Language | None:
    """`value` when it names a language we have, else None."""
    for language in LANGUAGES:
        if value == language:
            return language
    return None


LANG_COOKIE: Final = "pbx_lang"
"""The language the switch chose, remembered (web/admin/layout.py sets it)."""


def choose(request: web.Request, default: Language, *, chosen: str | None = None) -> Language:
    """The page's language: `chosen` (a form's `lang` field), `?lang=`, the `pbx_lang`
    cookie, Accept-Language, then `default` (http.language)."""
    return (
        as_language(chosen)
        or as_language(request.query.get("lang"))
        or as_language(request.cookies.get(LANG_COOKIE))
        or negotiate(request.headers.get(hdrs.ACCEPT_LANGUAGE))
        or default
    )
