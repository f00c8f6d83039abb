"""The demo FAQ (French and English) and the customer service phone (`loumo seed --demo`);
idempotent: a topic already there (by slug) is left as it is, a phone already set is kept."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.content.models import FaqEntry, FaqTopic, StoredSetting
from loumo.content.registry import CONTACT_PHONE

DEMO_CONTACT_PHONE = "+237 222 22 00 00"

# (slug, title FR, title EN, [(question FR, question EN, answer FR, answer EN)])
FAQ: tuple[tuple[str, str, str, tuple[tuple[str, str, str, str], ...]], ...] = (
    (
        "commandes",
        "Commandes",
        "Orders",
        (
            (
                "Comment passer une commande ?",
                "How do I place an order?",
                "Ajoutez des produits au panier, choisissez votre adresse de livraison puis "
                "le moyen de paiement, et validez.",
                "Add products to your basket, choose your delivery address and a payment "
                "method, then confirm.",
            ),
            (
                "Puis-je annuler ma commande ?",
                "Can I cancel my order?",
                "Oui, tant que la boutique n'a pas commencé à la préparer : ouvrez la commande "
                "et choisissez « Annuler ». Ce qui a été payé vous est remboursé.",
                "Yes, as long as the shop has not started preparing it: open the order and "
                "choose “Cancel”. What you paid is refunded.",
            ),
        ),
    ),
    (
        "livraison",
        "Livraison",
        "Delivery",
        (
            (
                "Où livrez-vous ?",
                "Where do you deliver?",
                "Dans les zones listées à l'étape de l'adresse ; les frais de livraison "
                "dépendent de la zone et s'affichent avant le paiement.",
                "In the zones listed at the address step; the delivery fee depends on the "
                "zone and is shown before you pay.",
            ),
            (
                "À quoi sert le code de livraison ?",
                "What is the delivery code for?",
                "Le livreur vous le demande à la remise : donnez-le seulement quand vous avez "
                "reçu votre commande.",
                "The delivery agent asks for it on hand-over: give it only once you have "
                "received your order.",
            ),
        ),
    ),
    (
        "paiement",
        "Paiement",
        "Payment",
        (
            (
                "Quels moyens de paiement acceptez-vous ?",
                "Which payment methods do you accept?",
                "Le mobile money (MTN, Orange), la carte bancaire et le paiement à la "
                "livraison en espèces.",
                "Mobile money (MTN, Orange), bank cards and cash on delivery.",
            ),
            (
                "Comment gagner des points de fidélité ?",
                "How do I earn fidelity points?",
                "Chaque commande terminée vous rapporte des points selon le montant payé "
                "pour les produits (hors frais de livraison).",
                "Every completed order earns points on what you paid for the goods "
                "(delivery fees excluded).",
            ),
        ),
    ),
)


async def seed_content(session: AsyncSession) -> int:
    """Add the demo FAQ topics missing (with their entries, published) and the contact phone
    when none is set; returns how many topics were created."""
    existing = set(await session.scalars(select(FaqTopic.slug)))
    made = 0
    for position, (slug, title_fr, title_en, entries) in enumerate(FAQ):
        if slug in existing:
            continue
        topic = FaqTopic(
            slug=slug, title_fr=title_fr, title_en=title_en, position=position, is_published=True
        )
        session.add(topic)
        await session.flush()
        session.add_all(
            FaqEntry(
                topic_id=topic.id,
                question_fr=q_fr,
                question_en=q_en,
                answer_fr=a_fr,
                answer_en=a_en,
                position=index,
                is_published=True,
            )
            for index, (q_fr, q_en, a_fr, a_en) in enumerate(entries)
        )
        made += 1
    if await session.get(StoredSetting, CONTACT_PHONE.key) is None:
        session.add(
            StoredSetting(key=CONTACT_PHONE.key, value=CONTACT_PHONE.dump(DEMO_CONTACT_PHONE))
        )
    await session.flush()
    return made
