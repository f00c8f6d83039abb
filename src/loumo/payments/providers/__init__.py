"""Payment providers behind one interface (`base.PaymentProvider`)."""
