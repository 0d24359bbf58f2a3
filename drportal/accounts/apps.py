from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "drportal.accounts"
    label = "accounts"
