"""Staff sign-in, in one room: the policy (who needs a second step, where the steps lead), the forms,
the pages, the middleware that keeps sessions short and the second step required, the signals that record
sign-ins, and the services that change an account's second step. No patient data anywhere in here."""
