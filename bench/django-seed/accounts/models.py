from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Logs in with its e-mail address."""

    email = models.EmailField(unique=True)
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["username"]
