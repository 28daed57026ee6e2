"""FreshBooks API: OAuth, the read-only client, API shapes, normalization to business documents, webhooks."""
