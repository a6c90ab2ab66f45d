from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "alexandria.reviews"
    verbose_name = "Reviews and consensus"
