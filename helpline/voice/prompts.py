"""Every line Clearline speaks, in English and Spanish, under one key (a test checks both exist).

Placeholders in braces are filled by the caller of ``prompt`` with ``str.format``.
"""

from __future__ import annotations

PROMPTS: dict[str, dict[str, str]] = {
    "en": {
        # The first thing every caller hears (the greeting): the name, the Spanish option, the spoken
        # disclosure (``DisclosureVersion.spoken``, default "disclosure" below), then the crisis option
        # and the service menu, in two <Gather>s that take a key while they speak. The order is the order
        # of the seconds a caller can spare: see ``helpline.voice.timing`` and README "Time to a human".
        "welcome": "{name}.",
        "welcome_listing": "{listing}, through {name}.",
        "spanish_option": "For Spanish, press 8.",
        "disclosure": "Free and confidential. Calls go to treatment providers who pay to advertise.",
        "crisis_option": "In a crisis, press 9. Emergency? Dial 9 1 1.",
        "service_menu": (
            "For detox, press 1. For residential treatment, press 2. For outpatient, press 3. "
            "For medication-assisted treatment, press 4. Not sure? Stay on the line."
        ),
        "sorry": "Sorry, I didn't get that.",
        "unsure_default": "Someone will help you decide.",
        "zip_ask": "To find help near you, enter your 5-digit ZIP code. If you don't know it, press star.",
        "zip_retry": (
            "Sorry, that ZIP code was not recognized. Please enter your 5-digit ZIP code. "
            "If you don't know it, press star."
        ),
        "zip_unknown": "No problem. We will find someone who can help.",
        "connecting": "Connecting you now.",
        "next": "That provider is not available. Trying another one now. Please stay on the line.",
        "crisis": "Connecting you to the 988 Suicide and Crisis Lifeline.",
        "fallback_unreached": "We could not reach a treatment provider right now.",
        "crisis_unreached": (
            "We could not reach the crisis line right now. If you are in crisis, you can dial 9 8 8 yourself "
            "at any time."
        ),
        "fallback": "Connecting you to the {name}, free, confidential and open 24 hours.",
        # Played after the default line's <Dial> ends, however it ended (answered and done, or no answer).
        "fallback_failed": (
            "If you still need help, please call {number} at any time, or dial 9 8 8 if you are in crisis. Goodbye."
        ),
        "goodbye": "Thank you for calling. Take care. Goodbye.",
        "callback_hello": "Hello. This is the call back you asked for from {name}. Press 1 to be connected.",
        "callback_again": "Press 1 to be connected.",
        "callback_missed": "Sorry we missed you. This was {name} returning your call. We will try again. Goodbye.",
        "callback_connecting": "Connecting you now.",
        "callback_goodbye": "Goodbye.",
        "callback_gone": "Sorry, this call can no longer be connected. Goodbye.",
        "callback_fault": "Sorry, something went wrong with this call. We will try again. Goodbye.",
        # The partner's lines (inbound whisper and bridged callback; partners hear English today).
        "partner_unavailable": "This call is no longer available. Goodbye.",
        "partner_no_key": "No key was pressed, so the caller will be offered to another provider. Goodbye.",
        "partner_declined": "Call declined. Goodbye.",
        "partner_connecting": "Connecting you now.",
        "partner_caller_gone": "Sorry, the caller is no longer on the line. Goodbye.",
        "callback_inactive": "This {name} callback request is no longer active. Goodbye.",
        "callback_whisper": (
            "This is {name} with a callback request: a person in {area} asking {who} about {service}, "
            "in {language}. Press 1 to call them now. Press any other key to pass."
        ),
        "callback_no_key": "No key was pressed, so we will offer this request to another provider. Goodbye.",
        "callback_passed": "Understood. We will offer this request to another provider. Goodbye.",
        "callback_calling": "Thank you. Calling the person now. Please stay on the line.",
        "callback_unreached": "We could not reach the person. We will try again later. Thank you. Goodbye.",
    },
    "es": {
        "welcome": "{name}.",
        "welcome_listing": "{listing}, a través de {name}.",
        "spanish_option": "Para español, oprima 8.",
        "disclosure": (
            "Gratis y confidencial. Las llamadas van a proveedores de tratamiento que pagan por anunciarse."
        ),
        "crisis_option": "En crisis, oprima 9. Emergencia: marque 9 1 1.",
        "service_menu": (
            "Para desintoxicación, oprima 1. Para tratamiento residencial, oprima 2. Para tratamiento "
            "ambulatorio, oprima 3. Para tratamiento asistido con medicamentos, oprima 4. "
            "¿No está seguro? No cuelgue."
        ),
        "sorry": "Disculpe, no le entendí.",
        "unsure_default": "Alguien le ayudará a decidir.",
        "zip_ask": (
            "Para encontrar ayuda cerca de usted, marque su código postal de 5 dígitos. ¿No lo sabe? Oprima asterisco."
        ),
        "zip_retry": (
            "Disculpe, no reconocimos ese código postal. Marque su código postal de 5 dígitos. "
            "¿No lo sabe? Oprima asterisco."
        ),
        "zip_unknown": "No se preocupe. Buscaremos a alguien que pueda ayudarle.",
        "connecting": "Le comunicamos ahora.",
        "next": "Ese proveedor no está disponible. Intentamos con otro. Por favor, no cuelgue.",
        "crisis": "Le comunicamos con la Línea 988 de Prevención del Suicidio y Crisis.",
        "fallback_unreached": "No pudimos comunicarnos con un proveedor en este momento.",
        "crisis_unreached": (
            "No pudimos comunicarnos con la línea de crisis en este momento. Si está en crisis, puede marcar "
            "9 8 8 usted mismo a cualquier hora."
        ),
        "fallback": "Le comunicamos con la {name}, gratuita, confidencial y disponible las 24 horas.",
        "fallback_failed": (
            "Si todavía necesita ayuda, llame al {number} a cualquier hora, o marque 9 8 8 si está en crisis. Adiós."
        ),
        "goodbye": "Gracias por llamar. Cuídese. Adiós.",
        "callback_hello": "Hola. Esta es la llamada que usted pidió a {name}. Marque 1 para conectarse.",
        "callback_again": "Marque 1 para conectarse.",
        "callback_missed": (
            "Lo sentimos, no pudimos hablar con usted. Le llamaba {name}. Volveremos a intentarlo. Adiós."
        ),
        "callback_connecting": "Le estamos comunicando.",
        "callback_goodbye": "Adiós.",
        "callback_gone": "Lo sentimos, ya no es posible conectar esta llamada. Adiós.",
        "callback_fault": "Lo sentimos, hubo un problema con esta llamada. Volveremos a intentarlo. Adiós.",
        "partner_unavailable": "Esta llamada ya no está disponible. Adiós.",
        "partner_no_key": "No se oprimió ninguna tecla; la llamada se ofrecerá a otro proveedor. Adiós.",
        "partner_declined": "Llamada rechazada. Adiós.",
        "partner_connecting": "Le estamos comunicando.",
        "partner_caller_gone": "Lo sentimos, la persona ya no está en la línea. Adiós.",
        "callback_inactive": "Esta solicitud de llamada de {name} ya no está activa. Adiós.",
        "callback_whisper": (
            "Le llama {name} con una solicitud de llamada: una persona en {area} que pregunta {who} sobre "
            "{service}, en {language}. Oprima 1 para llamarle ahora. Oprima otra tecla para pasar."
        ),
        "callback_no_key": "No se oprimió ninguna tecla; ofreceremos esta solicitud a otro proveedor. Adiós.",
        "callback_passed": "Entendido. Ofreceremos esta solicitud a otro proveedor. Adiós.",
        "callback_calling": "Gracias. Estamos llamando a la persona. Por favor, no cuelgue.",
        "callback_unreached": "No pudimos comunicarnos con la persona. Lo intentaremos más tarde. Gracias. Adiós.",
    },
}


def prompt(language: str, key: str) -> str:
    """The line ``key`` in ``language`` (English for a language we do not speak)."""
    return PROMPTS.get(language, PROMPTS["en"])[key]
