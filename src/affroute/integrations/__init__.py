"""Help desks (Zendesk, Freshdesk, any Standard Webhooks sender) and CRM enrichment
sources: what they send us, what we write back, and how calls to them are made."""
