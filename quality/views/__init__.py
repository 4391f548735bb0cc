"""Quality pages: staff (wellbeing on the plan, responses) and the dashboard."""
