"""web/admin: the staff pages under /admin/ (issue 12). Read web/README.md "Admin pages".

app.py                 admin_face(deps): the sub-application; ROUTE_TABLES
deps.py                AdminDeps (what the pages are given), admin_deps(request)
roles.py               Permission, ROLES: who may do what (enforced by the middleware)
routing.py             AdminRoutes: @routes.get/post(path, permission)
sessions.py            the signed cookie, idle timeout, CSRF tokens
session_middleware.py  login / CSRF / role checks; current(), staff_user(), see_other()
sections.py            SECTIONS: the home page's and the menu's links
layout.py              admin_page(request, template, context)
paging.py              Pager (?page=N) for lists
journal.py             staff_journal(request, …): a staff change into the audit journal
login.py, accounts.py  login/logout/home; users and tokens pages
"""
