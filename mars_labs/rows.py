"""Model instances from one hand-written SELECT that joins several tables.

For the few lookups every request makes (the signed-in user with their
profile, the step a page or a POST names), the ORM's query compiling costs
more CPU than the database's work. These helpers keep such statements honest:
the column lists come from the models, and the values go through the same
converters the ORM applies (UUIDs, booleans and datetimes on SQLite, JSON
everywhere), worked out once per model and database.
"""

from django.db import connections

_CONVERTERS = {}


def _fields(model, exclude):
    return [f for f in model._meta.concrete_fields if f.attname not in exclude]


def columns(model, alias, exclude=()):
    """``alias."column", ...`` for every concrete field of ``model`` in field order, but the attnames in ``exclude``."""
    return ", ".join(f'{alias}."{f.column}"' for f in _fields(model, exclude))


def _converters(model, connection, exclude):
    key = (connection.alias, model, exclude)
    if key not in _CONVERTERS:
        converters, fields = [], _fields(model, exclude)
        for i, field in enumerate(fields):
            expression = field.get_col(model._meta.db_table)
            for convert in connection.ops.get_db_converters(expression) + expression.get_db_converters(connection):
                converters.append((i, expression, convert))
        _CONVERTERS[key] = ([f.attname for f in fields], converters)
    return _CONVERTERS[key]


def from_row(row, models, db, exclude=()):
    """One instance per model from ``row`` (their ``columns`` one after the other); None for a model whose
    primary key is NULL (a LEFT JOIN that found nothing). ``exclude``: attnames left out of ``columns``,
    which the instances get as deferred fields (read from the database if something asks for them)."""
    connection = connections[db]
    instances, start = [], 0
    for model in models:
        names, converters = _converters(model, connection, tuple(exclude))
        values = list(row[start:start + len(names)])
        start += len(names)
        if values[names.index(model._meta.pk.attname)] is None:
            instances.append(None)
            continue
        for i, expression, convert in converters:
            values[i] = convert(values[i], expression, connection)
        instances.append(model.from_db(db, names, values))
    return instances


def converter(model, name, db):
    """``convert(value)``: what the ORM makes of a value of ``model``'s field ``name`` read from ``db``."""
    connection = connections[db]
    key = (connection.alias, model, name)
    if key not in _CONVERTERS:
        expression = model._meta.get_field(name).get_col(model._meta.db_table)
        steps = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)

        def convert(value):
            for step in steps:
                value = step(value, expression, connection)
            return value

        _CONVERTERS[key] = convert
    return _CONVERTERS[key]
