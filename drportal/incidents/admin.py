from django.contrib import admin

from drportal.incidents.models import Incident

admin.site.register(Incident)
