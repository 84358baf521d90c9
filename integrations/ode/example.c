/* README example (make test-install-integrations builds it with pkg-config). */
#include <fa_ode.h>
#include <stdio.h>

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_ode_install_allocator(fa, "physics/ode");      /* before dInitODE2: ODE's memory under physics/ode */
    dInitODE2(0);
    dWorldID world = dWorldCreate();
    dSpaceID space = dHashSpaceCreate(0);
    dWorldSetGravity(world, 0, 0, -9.81);
    dCreatePlane(space, 0, 0, 1, 0);
    dBodyID box = dBodyCreate(world);
    dGeomSetBody(dCreateBox(space, 1, 1, 1), box);
    dBodySetPosition(box, 0, 0, 2);
    fa_ode_world_t *w;
    fa_ode_attach(fa, world, space, NULL, &w);        /* events under physics/contacts */
    for (int frame = 0; frame < 120; frame++) {
        fa_begin_frame(fa);
        fa_ode_step(w, 1.0 / 60);
        fa_ode_contacts_t c = fa_ode_contacts(w);
        for (size_t i = 0; i < c.count; i++)
            if (c.items[i].phase == FA_ODE_BEGIN) printf("frame %d: landed\n", frame);
        fa_end_frame(fa);
    }
    fa_ode_detach(w);
    dSpaceDestroy(space), dWorldDestroy(world);
    dCloseODE();
    fa_ode_uninstall_allocator();                     /* ODE holds nothing now */
    fa_destroy(fa);
}
