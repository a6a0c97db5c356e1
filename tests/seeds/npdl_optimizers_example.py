# NumpyDL 0.4 reference (004_84bfec2b026c558f.txt), "1.5.1 Examples" of npdl.optimizers, lines 1756-1765.
import npdl
from npdl.activations import ReLU
from npdl.activations import Softmax
from npdl.objectives import SCCE
model = npdl.model.Model()
model.add(npdl.layers.Dense(n_out=100, n_in=50, activation=ReLU()))
model.add(npdl.layers.Dense(n_out=200, activation=ReLU()))
model.add(npdl.layers.Dense(n_out=100, activation=ReLU()))
model.add(npdl.layers.Dense(n_out=10, activation=Softmax()))
model.compile(loss=SCCE(), optimizer=npdl.optimizers.SGD(lr=0.005))
