/*
 * The action event an executed action feeds back into the CEP stream
 * (vigil/actions.h). Shared by the server's executor and `vigil cep`, so
 * both give rules `from actions` the same events.
 */
#include "vigil/actions.h"

/* json_object_set_new consumes its value even on failure, so each member
 * can be added without a leak check; one test of the final object is enough. */
static int add(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v);
}

json_t *vg_action_event(const struct vg_cep_output *req, bool success)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = add(o, "type", json_string("action"));
    bad |= add(o, "phenomenon", json_string(req->phenomenon ? req->phenomenon : ""));
    bad |= add(o, "pattern", json_string(req->pattern ? req->pattern : ""));
    bad |= add(o, "action", json_string(req->action_type ? req->action_type : ""));
    bad |= add(o, "success", json_boolean(success));
    bad |= add(o, "message", json_stringn(req->message ? req->message : "", req->message_len));
    bad |= add(o, "time", json_integer(req->time));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
