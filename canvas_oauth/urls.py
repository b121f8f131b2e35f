app_name = "canvas_oauth"

urlpatterns: list = []
