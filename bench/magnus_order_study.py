"""Magnus order study (session 15): how many steps a sixth-order Magnus integrator needs
through the summer profile of shared/tests/profile.rs for the end-state error that the
forward model's fourth-order steps (profile.rs: <= 0.5 m/s and <= 0.5 rad a step) give.

For a fixed real k (lossless; one k inside the water's wavenumber range, one outside),
y' = A(z) y with A = [[0, 1], [-kz^2(z), 0]] is integrated from the surface (psi = 0,
psi' = 1) to the bottom; the reference is the sixth-order scheme with 40x the steps.
Fourth order: Omega = h/2 (A1 + A2) + sqrt(3)/12 h^2 [A2, A1] (the code's). Sixth order:
Blanes, Casas & Ros (2000), three Gauss points,
Omega = a1 + a3/12 + [-20 a1 - a3 + [a1, a2], a2 - [a1, 2 a3 + [a1, a2]]/60]/240.
Plain Python, no dependencies: python3 bench/magnus_order_study.py
"""
import math
SUMMER=[(0.0,1521.0),(10.0,1520.5),(30.0,1505.0),(50.0,1494.0),(100.0,1490.0),(216.5,1488.5)]
def c_at(z):
    for (z0,c0),(z1,c1) in zip(SUMMER,SUMMER[1:]):
        if z<=z1: return c0+(c1-c0)*(z-z0)/(z1-z0)
    return SUMMER[-1][1]
def mm(A,B): return [[A[0][0]*B[0][0]+A[0][1]*B[1][0],A[0][0]*B[0][1]+A[0][1]*B[1][1]],[A[1][0]*B[0][0]+A[1][1]*B[1][0],A[1][0]*B[0][1]+A[1][1]*B[1][1]]]
def add(A,B,s=1.0): return [[A[i][j]+s*B[i][j] for j in range(2)] for i in range(2)]
def sc(A,s): return [[A[i][j]*s for j in range(2)] for i in range(2)]
def com(A,B): return add(mm(A,B),mm(B,A),-1.0)
def expm(O):
    a=O[0][0]; b=O[0][1]; c=O[1][0]
    t2=-(a*a+b*c)
    if t2>0:
        t=math.sqrt(t2); C=math.cos(t); S=math.sin(t)/t
    elif t2<0:
        t=math.sqrt(-t2); C=math.cosh(t); S=math.sinh(t)/t
    else: C=1.0; S=1.0
    return [[C+S*a,S*b],[S*c,C-S*a]]
def A(z,omega,k):
    kz2=(omega/c_at(z))**2-k*k
    return [[0.0,1.0],[-kz2,0.0]]
def step4(z,h,om,k):
    g=0.5-math.sqrt(3)/6
    A1=A(z+g*h,om,k); A2=A(z+(1-g)*h,om,k)
    O=add(sc(add(A1,A2),h/2), sc(com(A2,A1), math.sqrt(3)/12*h*h))
    return expm(O)
def step6(z,h,om,k):
    r=math.sqrt(15)/10
    A1=A(z+(0.5-r)*h,om,k); A2=A(z+0.5*h,om,k); A3=A(z+(0.5+r)*h,om,k)
    a1=sc(A2,h); a2=sc(add(A3,A1,-1.0), math.sqrt(15)*h/3); a3=sc(add(add(A3,sc(A2,-2.0)),A1),10*h/3)
    C1=com(a1,a2); C2=sc(com(a1,add(sc(a3,2.0),C1)),-1/60)
    O=add(add(a1,sc(a3,1/12)), sc(com(add(add(sc(a1,-20.0),a3,-1.0),C1), add(a2,C2)),1/240))
    return expm(O)
def integrate(stepf, om, k, nseg):
    y=[0.0,1.0]
    for (z0,c0),(z1,c1),n in zip(SUMMER,SUMMER[1:],nseg):
        h=(z1-z0)/n
        for i in range(n):
            M=stepf(z0+i*h,h,om,k)
            y=[M[0][0]*y[0]+M[0][1]*y[1], M[1][0]*y[0]+M[1][1]*y[1]]
    return y
def rule(om, phase, speed=0.5):
    out=[]
    for (z0,c0),(z1,c1) in zip(SUMMER,SUMMER[1:]):
        n=max(abs(c1-c0)/speed, om/min(c0,c1)*(z1-z0)/phase)
        out.append(max(1,math.ceil(n)))
    return out
for f in [49.0,148.0]:
    om=2*math.pi*f
    for k in [om/1510.0, om/1600.0]:
        ref=integrate(step6,om,k,[n*40 for n in rule(om,0.5)])
        nrm=math.hypot(*ref)
        def err(y): return math.hypot(y[0]-ref[0],y[1]-ref[1])/nrm
        n4=rule(om,0.5); e4=err(integrate(step4,om,k,n4))
        print(f"{f} Hz k=om/{om/k:.0f}: 4th current rule {sum(n4)} steps err {e4:.1e}")
        for ph in [0.5,1.0,2.0,4.0]:
            for sp in [0.5,1.0,2.0,4.0]:
                n6=rule(om,ph,sp); e6=err(integrate(step6,om,k,n6))
                if e6<=e4*1.5: print(f"   6th phase {ph} speed {sp}: {sum(n6)} steps err {e6:.1e}")
