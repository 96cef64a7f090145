"""View models shared by the JSON API and the portal: the portal renders what the API returns."""
