"""The public web pages (the API's public routes are in ``alexandria.api.urls``)."""

from django.urls import path

from alexandria.public import pages

app_name = "public"

urlpatterns = [
    path("", pages.search_page, name="search"),
    path("items/<int:pk>", pages.item_page, name="item"),
    path("sources/<int:pk>", pages.source_page, name="source"),
    path("browse", pages.browse_page, name="browse"),
    path("browse/genres/<str:genre>", pages.browse_genre_page, name="genre"),
    path("browse/keywords/<str:keyword>", pages.browse_keyword_page, name="keyword"),
    path("age", pages.age_switch, name="age"),
]
