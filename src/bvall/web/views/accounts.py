"""Users and sites (administrators), and each user's own account: password and API tokens."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from bvall.errors import InputError
from bvall.store import access
from bvall.store.accounts import create_user, set_password, update_user
from bvall.store.models import ROLES, ApiToken, Profile, Site
from bvall.store.sites import add_site, rename_site
from bvall.store.tokens import create_token, revoke_token


class UserForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]{1,150}$", help_text="Letters, digits and . @ + - _"
    )
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=ROLES)
    all_sites = forms.BooleanField(required=False, help_text="Sees every site's patients.")
    sites = forms.ModelMultipleChoiceField(
        queryset=Site.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    active = forms.BooleanField(required=False, initial=True)


class SiteForm(forms.Form):
    code = forms.RegexField(
        regex=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$", help_text="As in patients.site_id"
    )
    name = forms.CharField(max_length=200, required=False)


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "manage_users")
    users = (
        get_user_model()
        .objects.order_by("username")
        .select_related("profile")
        .prefetch_related("profile__sites")
    )
    return render(request, "bvall/users.html", {"users": users, "title": "Users"})


@login_required
def user_new(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "manage_users")
    form = UserForm(request.POST or None, initial={"active": True})
    form.fields["username"].disabled = False
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            account = create_user(
                d["username"],
                d["role"],
                sites=tuple(s.code for s in d["sites"]),
                all_sites=d["all_sites"],
                email=d["email"],
                actor=request.user,
                reason=f"created by {request.user.username}",
            )
        except InputError as exc:
            form.add_error("username", str(exc))
        else:
            return render(
                request,
                "bvall/password_once.html",
                {"account": account, "title": "Account created"},
            )
    return render(request, "bvall/user_form.html", {"form": form, "title": "New user"})


@login_required
def user_edit(request: HttpRequest, uid: int) -> HttpResponse:
    access.require(request.user, "manage_users")
    user = get_object_or_404(get_user_model(), pk=uid)
    profile, _ = Profile.objects.get_or_create(user=user)
    initial = {
        "username": user.username,
        "email": user.email,
        "role": profile.role,
        "all_sites": profile.all_sites,
        "sites": list(profile.sites.all()),
        "active": user.is_active,
    }
    form = UserForm(request.POST or None, initial=initial)
    form.fields["username"].disabled = True
    if request.method == "POST" and request.POST.get("reset_password"):
        account = set_password(user.username, actor=request.user)
        return render(
            request, "bvall/password_once.html", {"account": account, "title": "New password"}
        )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            update_user(
                request.user,
                user,
                role=d["role"],
                sites=[site.code for site in d["sites"]],
                all_sites=d["all_sites"],
                active=d["active"],
                email=d["email"],
            )
        except InputError as exc:
            form.add_error("role", str(exc))
        else:
            messages.success(request, f"User {user.username} saved.")
            return redirect("users")
    return render(
        request,
        "bvall/user_form.html",
        {"form": form, "title": f"User {user.username}", "edit_user": user},
    )


@login_required
def sites(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "manage_users")
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        name = form.cleaned_data["name"]
        reason = f"by {request.user.username} on the Sites page"
        if Site.objects.filter(code=code).exists():
            rename_site(request.user, code, name, reason=reason)
        else:
            add_site(request.user, code, name, reason=reason)
        messages.success(request, f"Site {code} saved.")
        return redirect("sites")
    rows: list[dict[str, Any]] = [
        {
            "site": s,
            "patients": s.patients.count(),
            "members": ", ".join(p.user.username for p in s.members.select_related("user")),
        }
        for s in Site.objects.all()
    ]
    return render(request, "bvall/sites.html", {"rows": rows, "form": form, "title": "Sites"})


@login_required
def my_account(request: HttpRequest) -> HttpResponse:
    new_token = None
    pw_form = PasswordChangeForm(request.user)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "password":
            pw_form = PasswordChangeForm(request.user, request.POST)
            if pw_form.is_valid():
                pw_form.save()
                update_session_auth_hash(request, pw_form.user)
                messages.success(request, "Password changed.")
                return redirect("account")
        elif action == "token":
            try:
                _, new_token = create_token(request.user, request.POST.get("name", ""))
            except InputError as exc:
                messages.error(request, str(exc))
        elif action == "revoke":
            try:
                revoke_token(request.user, int(request.POST.get("token", "0")))
                messages.success(request, "Token revoked.")
            except (InputError, ValueError) as exc:
                messages.error(request, str(exc))
            return redirect("account")
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "bvall/account.html",
        {
            "pw_form": pw_form,
            "tokens": tokens,
            "new_token": new_token,
            "title": "My account",
            "role": access.role_of(request.user),
            "site_list": access.site_codes(request.user),
        },
    )
